//! Instrument and venue identity as the original Protocol V2 encodes it: the
//! 12-byte `InstrumentId` (asset id `u64`, venue `u16`, asset type `u8`,
//! reserved `u8`), the original's `VenueId` numbering and `AssetType` codes,
//! and the stack's catalog of Polygon tokens and (synthetic) pools, so that
//! addresses on the wire get names in logs and on the dashboard.

use super::source::Source;
use crate::feed::noise::{hash, key};

/// The original's `VenueId` values the stack uses (its `venues.rs`).
pub mod venue_id {
    /// Kraken (centralized exchange).
    pub const KRAKEN: u16 = 101;
    /// Coinbase (centralized exchange).
    pub const COINBASE: u16 = 102;
    /// The Polygon chain (the venue of pool swaps and syncs).
    pub const POLYGON: u16 = 202;
    /// QuickSwap on Polygon.
    pub const QUICKSWAP: u16 = 400;
    /// SushiSwap on Polygon.
    pub const SUSHISWAP_POLYGON: u16 = 401;
}

/// The original's `AssetType` values the stack uses.
pub mod asset_type {
    /// A native coin or a CEX spot pair (`InstrumentId::coin`).
    pub const COIN: u8 = 51;
    /// A liquidity pool (`InstrumentId::pool`).
    pub const POOL: u8 = 100;
}

/// The Polygon chain id (the original's ArbitrageSignal `chain_id`).
pub const POLYGON_CHAIN_ID: u32 = 137;

/// A 20-byte EVM address.
pub type Address = [u8; 20];

/// A venue an adapter publishes (the `--venue` of `torq node adapter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// Kraken (centralized exchange).
    Kraken,
    /// Coinbase (centralized exchange).
    Coinbase,
    /// Polygon DEX pools.
    Polygon,
}

impl Venue {
    /// All venues.
    pub const ALL: [Venue; 3] = [Venue::Kraken, Venue::Coinbase, Venue::Polygon];

    /// The venue's original `VenueId`.
    pub fn id(self) -> u16 {
        match self {
            Venue::Kraken => venue_id::KRAKEN,
            Venue::Coinbase => venue_id::COINBASE,
            Venue::Polygon => venue_id::POLYGON,
        }
    }

    /// The venue of an original `VenueId`.
    pub fn from_id(id: u16) -> Option<Venue> {
        Venue::ALL.into_iter().find(|v| v.id() == id)
    }

    /// The venue's name (lower case).
    pub fn name(self) -> &'static str {
        match self {
            Venue::Kraken => "kraken",
            Venue::Coinbase => "coinbase",
            Venue::Polygon => "polygon",
        }
    }

    /// The adapter publishing this venue's feed.
    pub fn adapter(self) -> Source {
        match self {
            Venue::Kraken => Source::KrakenCollector,
            Venue::Coinbase => Source::CoinbaseCollector,
            Venue::Polygon => Source::PolygonCollector,
        }
    }
}

impl std::fmt::Display for Venue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Venue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Venue::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown venue `{s}` (expected kraken, coinbase or polygon)"))
    }
}

/// The name of any `VenueId` (lower case), or `venue<N>` for one the stack does not know.
pub fn venue_name(id: u16) -> String {
    match id {
        venue_id::QUICKSWAP => "quickswap".into(),
        venue_id::SUSHISWAP_POLYGON => "sushiswap".into(),
        other => Venue::from_id(other).map_or_else(|| format!("venue{other}"), |v| v.name().into()),
    }
}

/// The `VenueId` of a venue name (as [`venue_name`] writes it).
pub fn venue_by_name(name: &str) -> Option<u16> {
    match name.to_ascii_lowercase().as_str() {
        "quickswap" => Some(venue_id::QUICKSWAP),
        "sushiswap" => Some(venue_id::SUSHISWAP_POLYGON),
        other => other.parse::<Venue>().ok().map(Venue::id),
    }
}

/// The original's 12-byte instrument identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InstrumentId {
    /// Venue-specific identifier (for a coin: up to 8 symbol bytes, big-endian).
    pub asset_id: u64,
    /// The `VenueId`.
    pub venue: u16,
    /// The `AssetType`.
    pub asset_type: u8,
    /// Reserved (0).
    pub reserved: u8,
}

impl InstrumentId {
    /// `InstrumentId::coin(venue, symbol)` of the original: the symbol's first
    /// eight bytes, big-endian, as the asset id. The stack passes the whole
    /// pair (`BTC/USD`), as the original's Coinbase collector does.
    pub fn coin(venue: u16, symbol: &str) -> InstrumentId {
        let mut bytes = [0u8; 8];
        let len = symbol.len().min(8);
        bytes[..len].copy_from_slice(&symbol.as_bytes()[..len]);
        InstrumentId {
            asset_id: u64::from_be_bytes(bytes),
            venue,
            asset_type: asset_type::COIN,
            reserved: 0,
        }
    }

    /// `InstrumentId::pool(dex, token0, token1)` of the original, from the
    /// tokens' addresses (a token's asset id is its address's first 8 bytes, big-endian).
    pub fn pool(dex: u16, token0: &Address, token1: &Address) -> InstrumentId {
        let (a, b) = (token_asset_id(token0), token_asset_id(token1));
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        InstrumentId {
            asset_id: low.wrapping_mul(31).wrapping_add(high),
            venue: dex,
            asset_type: asset_type::POOL,
            reserved: 0,
        }
    }

    /// The original's `to_u64()`: venue, asset type and the asset id's low 40 bits.
    pub fn to_u64(self) -> u64 {
        ((self.venue as u64) << 48)
            | ((self.asset_type as u64) << 40)
            | (self.asset_id & 0xFF_FFFF_FFFF)
    }

    /// The symbol of a coin id (the asset id's bytes up to the first zero).
    pub fn symbol(self) -> String {
        let bytes = self.asset_id.to_be_bytes();
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(8);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    /// A readable name: the symbol of a coin, the pair of a known pool.
    pub fn name(self) -> String {
        if self.asset_type == asset_type::POOL {
            return catalog::pool_by_instrument(self)
                .map_or_else(|| format!("pool{:016x}", self.asset_id), |p| p.pair());
        }
        self.symbol()
    }
}

/// The asset id of a token: its address's first 8 bytes, big-endian.
pub fn token_asset_id(address: &Address) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&address[..8]);
    u64::from_be_bytes(bytes)
}

/// An `InstrumentId` in an address field (the exchange-to-exchange mode's
/// ArbitrageSignal pools): its 12 wire bytes (asset id LE, venue LE, asset
/// type, reserved), then zeros.
pub fn instrument_address(id: InstrumentId) -> Address {
    let mut out = [0u8; 20];
    out[..8].copy_from_slice(&id.asset_id.to_le_bytes());
    out[8..10].copy_from_slice(&id.venue.to_le_bytes());
    out[10] = id.asset_type;
    out[11] = id.reserved;
    out
}

/// The `InstrumentId` of [`instrument_address`].
pub fn instrument_from_address(address: &Address) -> InstrumentId {
    let mut id = [0u8; 8];
    id.copy_from_slice(&address[..8]);
    InstrumentId {
        asset_id: u64::from_le_bytes(id),
        venue: u16::from_le_bytes([address[8], address[9]]),
        asset_type: address[10],
        reserved: address[11],
    }
}

/// `0x…` hex of an address.
pub fn address_hex(address: &Address) -> String {
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for byte in address {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The address of `0x…` hex (40 digits).
pub fn parse_address(text: &str) -> Option<Address> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Known Polygon tokens and the stack's synthetic pools.
pub mod catalog {
    use super::*;

    /// An ERC-20 token on Polygon.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Token {
        /// Its symbol.
        pub symbol: &'static str,
        /// Its contract address (Polygon mainnet).
        pub address: Address,
        /// Its decimals.
        pub decimals: u8,
    }

    const fn token(symbol: &'static str, address: Address, decimals: u8) -> Token {
        Token {
            symbol,
            address,
            decimals,
        }
    }

    /// Polygon mainnet tokens the synthetic pools trade.
    pub const TOKENS: [Token; 4] = [
        token(
            "WETH",
            hex20(b"7ceb23fd6bc0add59e62ac25578270cff1b9f619"),
            18,
        ),
        token(
            "USDC",
            hex20(b"2791bca1f2de4661ed88a30c99a7a9449aa84174"),
            6,
        ),
        token(
            "WBTC",
            hex20(b"1bfd67037b42cf73acf2047067bd4f2c47d9bfd6"),
            8,
        ),
        token(
            "WMATIC",
            hex20(b"0d500b1d8e8ef31e21c99d1db9a6444d3adf1270"),
            18,
        ),
    ];

    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        }
    }

    const fn hex20(text: &[u8; 40]) -> Address {
        let mut out = [0u8; 20];
        let mut i = 0;
        while i < 20 {
            out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
            i += 1;
        }
        out
    }

    /// The token of a symbol.
    pub fn token_by_symbol(symbol: &str) -> Option<Token> {
        TOKENS.into_iter().find(|t| t.symbol == symbol)
    }

    /// The token of an address.
    pub fn token_by_address(address: &Address) -> Option<Token> {
        TOKENS.into_iter().find(|t| &t.address == address)
    }

    /// The symbol of an address (its hex when unknown).
    pub fn symbol_of(address: &Address) -> String {
        token_by_address(address).map_or_else(|| address_hex(address), |t| t.symbol.into())
    }

    /// The DEXes the synthetic pools are on: (venue id, swap fee in bps).
    pub const DEXES: [(u16, u32); 2] =
        [(venue_id::QUICKSWAP, 30), (venue_id::SUSHISWAP_POLYGON, 30)];

    /// A constant-product pool.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Pool {
        /// Its DEX (`VenueId`).
        pub dex: u16,
        /// Its address (synthetic, derived from the DEX and the tokens).
        pub address: Address,
        /// Token0.
        pub token0: Token,
        /// Token1 (the quote token, USDC).
        pub token1: Token,
        /// Swap fee, basis points.
        pub fee_bps: u32,
    }

    impl Pool {
        /// A pool of `pair` (`WETH/USDC`) on `dex`, if both tokens are known.
        pub fn new(dex: u16, pair: &str) -> Option<Pool> {
            let (base, quote) = pair.split_once('/')?;
            let (token0, token1) = (token_by_symbol(base)?, token_by_symbol(quote)?);
            let fee_bps = DEXES.iter().find(|(d, _)| *d == dex)?.1;
            Some(Pool {
                dex,
                address: synthetic_address(dex, &token0.address, &token1.address),
                token0,
                token1,
                fee_bps,
            })
        }

        /// `WETH/USDC`.
        pub fn pair(&self) -> String {
            format!("{}/{}", self.token0.symbol, self.token1.symbol)
        }

        /// The pool's `InstrumentId`.
        pub fn instrument(&self) -> InstrumentId {
            InstrumentId::pool(self.dex, &self.token0.address, &self.token1.address)
        }
    }

    /// Every synthetic pool of `pairs`: one per DEX and pair.
    pub fn pools(pairs: &[String]) -> Vec<Pool> {
        pairs
            .iter()
            .flat_map(|pair| {
                DEXES
                    .iter()
                    .filter_map(move |(dex, _)| Pool::new(*dex, pair))
            })
            .collect()
    }

    /// The default pairs of the Polygon adapter.
    pub const DEFAULT_PAIRS: [&str; 3] = ["WETH/USDC", "WBTC/USDC", "WMATIC/USDC"];

    /// The synthetic pool at `address` (any pair of catalog tokens).
    pub fn pool_by_address(address: &Address) -> Option<Pool> {
        all_pools().iter().find(|p| &p.address == address).copied()
    }

    /// The synthetic pool of an `InstrumentId` (any pair of catalog tokens).
    pub fn pool_by_instrument(id: InstrumentId) -> Option<Pool> {
        all_pools().iter().find(|p| p.instrument() == id).copied()
    }

    /// Every pool the catalog can name: each ordered pair of its tokens on each DEX.
    fn all_pools() -> &'static [Pool] {
        static POOLS: std::sync::OnceLock<Vec<Pool>> = std::sync::OnceLock::new();
        POOLS.get_or_init(|| {
            let pairs: Vec<String> = TOKENS
                .iter()
                .flat_map(|a| TOKENS.iter().map(move |b| (a, b)))
                .filter(|(a, b)| a.symbol != b.symbol)
                .map(|(a, b)| format!("{}/{}", a.symbol, b.symbol))
                .collect();
            pools(&pairs)
        })
    }

    /// The pairs of `pairs` the catalog cannot make pools of.
    pub fn unknown_pairs(pairs: &[String]) -> Vec<String> {
        pairs
            .iter()
            .filter(|pair| DEXES.iter().any(|(dex, _)| Pool::new(*dex, pair).is_none()))
            .cloned()
            .collect()
    }

    /// A deterministic 20-byte address of a synthetic pool.
    fn synthetic_address(dex: u16, token0: &Address, token1: &Address) -> Address {
        let seed = hash(key("torq synthetic pool"), &[dex as u64]);
        let (a, b) = (token_asset_id(token0), token_asset_id(token1));
        let mut out = [0u8; 20];
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            let word = hash(seed, &[a, b, i as u64]).to_be_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coin_ids_pack_the_symbol_big_endian() {
        let id = InstrumentId::coin(venue_id::KRAKEN, "BTC/USD");
        assert_eq!(id.asset_id, u64::from_be_bytes(*b"BTC/USD\0"));
        assert_eq!((id.venue, id.asset_type), (101, 51));
        assert_eq!(id.symbol(), "BTC/USD");
        assert_eq!(id.to_u64() >> 48, 101);
    }

    #[test]
    fn pool_ids_do_not_depend_on_token_order() {
        let weth = catalog::token_by_symbol("WETH").unwrap().address;
        let usdc = catalog::token_by_symbol("USDC").unwrap().address;
        assert_eq!(
            InstrumentId::pool(400, &weth, &usdc),
            InstrumentId::pool(400, &usdc, &weth)
        );
    }

    #[test]
    fn addresses_round_trip_through_hex() {
        let usdc = catalog::token_by_symbol("USDC").unwrap();
        let text = address_hex(&usdc.address);
        assert_eq!(text, "0x2791bca1f2de4661ed88a30c99a7a9449aa84174");
        assert_eq!(parse_address(&text), Some(usdc.address));
        assert_eq!(parse_address("0x12"), None);
    }

    #[test]
    fn synthetic_pools_are_distinct_per_dex_and_named() {
        let pools = catalog::pools(&["WETH/USDC".to_string()]);
        assert_eq!(pools.len(), 2);
        assert_ne!(pools[0].address, pools[1].address);
        let found = catalog::pool_by_address(&pools[1].address).unwrap();
        assert_eq!((found.pair(), found.dex), ("WETH/USDC".into(), 401));
        assert_eq!(pools[0].instrument().name(), "WETH/USDC");
        assert_eq!(venue_name(400), "quickswap");
        assert_eq!(venue_by_name("coinbase"), Some(102));
        let pairs = vec!["WETH/USDC".to_string(), "DOGE/USDC".to_string()];
        assert_eq!(
            catalog::unknown_pairs(&pairs),
            vec!["DOGE/USDC".to_string()]
        );
    }
}
