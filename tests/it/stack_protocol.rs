//! Golden vectors of the original Torq Protocol V2 (dawsh2/Torq `libs/types`
//! and `libs/codec`, the same code as dawsh2/AlphaPulse `backend_v2`):
//! frames whose bytes are written down here from the original's struct
//! definitions — each byte's origin named beside it — decoded by torq, and
//! torq's own encoding checked against the same bytes. The checksum is
//! verified with an independent bitwise CRC32 over header bytes 0–28 and the
//! payload, as the original's `MessageHeader::calculate_checksum` computes it.

use crate::support::crc32;
use torq_stack::protocol::frame::{encode_frame, FrameScanner, Header, Scan, HEADER_LEN};
use torq_stack::protocol::instrument::InstrumentId;
use torq_stack::protocol::tlv::{
    decode_payload, encode_payload, ArbitrageSignal, Fixed, Heartbeat, Message, OrderRequest,
    PoolSwap, PoolSync, Quote, Side, Trade,
};
use torq_stack::protocol::{Domain, Event};

/// Little-endian bytes, annotated at the call site.
fn le(value: u128, width: usize) -> Vec<u8> {
    value.to_le_bytes()[..width].to_vec()
}

/// A body assembled field by field, each field checked to land at the
/// offset the original's `repr(C)` layout gives it.
struct Golden(Vec<u8>);

impl Golden {
    fn field(mut self, offset: usize, bytes: &[u8]) -> Golden {
        assert_eq!(self.0.len(), offset, "field at offset {offset}");
        self.0.extend_from_slice(bytes);
        self
    }
}

/// `InstrumentId::coin(VenueId::Kraken, "BTC/USD")`: asset_id is the symbol's
/// bytes big-endian (`symbol_to_u64`), venue Kraken = 101, AssetType::Coin = 51.
const BTC_USD_ASSET_ID: u64 = 0x4254_432F_5553_4400;

fn trade_payload() -> Vec<u8> {
    #[rustfmt::skip]
    let body: [u8; 40] = [
        // TradeTLV.asset_id: u64 @0  = b"BTC/USD\0" as big-endian u64, stored LE
        0x00, 0x44, 0x53, 0x55, 0x2F, 0x43, 0x54, 0x42,
        // TradeTLV.price: i64 @8  = 60_000.5 × 1e8 = 6_000_050_000_000 (8 decimals)
        0x80, 0x50, 0xD9, 0xFE, 0x74, 0x05, 0x00, 0x00,
        // TradeTLV.volume: i64 @16 = 0.25 × 1e8 = 25_000_000
        0x40, 0x78, 0x7D, 0x01, 0x00, 0x00, 0x00, 0x00,
        // TradeTLV.execution_timestamp_ns: u64 @24 = 1_700_000_000_000_000_000
        0x00, 0x00, 0x2A, 0x36, 0xFE, 0x9C, 0x97, 0x17,
        // TradeTLV.venue_id: u16 @32 = VenueId::Kraken = 101
        0x65, 0x00,
        // TradeTLV.asset_type: u8 @34 = AssetType::Coin = 51; reserved: u8 @35 = 0
        0x33, 0x00,
        // TradeTLV.side: u8 @36 = 1 (sell); _padding: [u8; 3] @37
        0x01, 0x00, 0x00, 0x00,
    ];
    // TLV header: type TLVType::Trade = 1, length 40 (standard form, ≤ 255).
    let mut payload = vec![1, 40];
    payload.extend_from_slice(&body);
    payload
}

fn trade() -> Trade {
    Trade {
        instrument: InstrumentId::coin(101, "BTC/USD"),
        price: Fixed(6_000_050_000_000),
        volume: Fixed(25_000_000),
        execution_timestamp_ns: 1_700_000_000_000_000_000,
        side: Side::Sell,
    }
}

/// The original's `MessageHeader` (repr(C), 32 bytes) of the trade frame.
fn golden_header(payload: &[u8]) -> Vec<u8> {
    #[rustfmt::skip]
    let mut header = vec![
        // magic: u32 @0 = MESSAGE_MAGIC 0xDEADBEEF, little-endian
        0xEF, 0xBE, 0xAD, 0xDE,
        // relay_domain: u8 @4 = RelayDomain::MarketData = 1 (codec numbering)
        0x01,
        // version: u8 @5 = PROTOCOL_VERSION = 1
        0x01,
        // source: u8 @6 = SourceType::KrakenCollector = 2 (codec numbering)
        0x02,
        // flags: u8 @7 = 0
        0x00,
        // sequence: u64 @8 = 7
        0x07, 0, 0, 0, 0, 0, 0, 0,
        // timestamp: u64 @16 = 0x0102030405060708 ns
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        // payload_size: u32 @24 = 42 (one standard TLV: 2 + 40)
        0x2A, 0x00, 0x00, 0x00,
    ];
    // checksum: u32 @28 = CRC32 over bytes 0..28 and the payload (calculate_checksum).
    let mut scope = header.clone();
    scope.extend_from_slice(payload);
    header.extend_from_slice(&crc32(&scope).to_le_bytes());
    header
}

#[test]
fn a_trade_frame_of_the_original_decodes_and_torq_writes_the_same_bytes() {
    let payload = trade_payload();
    let mut frame = golden_header(&payload);
    frame.extend_from_slice(&payload);

    // torq reads the original's frame: header fields, checksum, record.
    let header = Header::decode(&frame).expect("a header");
    assert_eq!(
        (header.domain, header.source, header.sequence),
        (Domain::MarketData as u8, 2, 7)
    );
    assert_eq!(header.timestamp_ns, 0x0102_0304_0506_0708);
    let relay = FrameScanner::new(Domain::MarketData, true);
    assert_eq!(relay.scan(&frame), Scan::Frame(frame.len()));
    let decoded = decode_payload(&frame[HEADER_LEN..]).expect("records");
    assert_eq!(decoded.messages, vec![Message::Trade(trade())]);
    assert_eq!(trade().instrument.asset_id, BTC_USD_ASSET_ID);

    // torq writes the original's frame, byte for byte.
    let ours = encode_frame(header, &encode_payload(&[Message::Trade(trade())]).unwrap());
    assert_eq!(&ours[..], &frame[..]);

    // A checksum over the payload alone (torq's old scope) is rejected now.
    let mut payload_only = frame.clone();
    payload_only[28..32].copy_from_slice(&crc32(&payload).to_le_bytes());
    assert!(matches!(relay.scan(&payload_only), Scan::Bad { .. }));
}

#[test]
fn a_quote_is_the_56_byte_struct_not_the_registrys_52() {
    let quote = Quote {
        instrument: InstrumentId::coin(102, "ETH/USD"),
        bid_price: Fixed(300_000_000_000),
        bid_size: Fixed(200_000_000),
        ask_price: Fixed(300_050_000_000),
        ask_size: Fixed(150_000_000),
        quote_timestamp_ns: 42,
    };
    let body = Golden(Vec::new())
        // QuoteTLV.asset_id: u64 @0 = b"ETH/USD\0" big-endian (InstrumentId::coin)
        .field(0, &u64::from_be_bytes(*b"ETH/USD\0").to_le_bytes())
        // bid_price, bid_size, ask_price, ask_size: i64 @8, @16, @24, @32 (8 decimals)
        .field(8, &le(300_000_000_000, 8))
        .field(16, &le(200_000_000, 8))
        .field(24, &le(300_050_000_000, 8))
        .field(32, &le(150_000_000, 8))
        // quote_timestamp_ns: u64 @40
        .field(40, &le(42, 8))
        // venue_id: u16 @48 = VenueId::Coinbase = 102; asset_type @50 = Coin 51; reserved @51
        .field(48, &[102, 0, 51, 0])
        // _padding: [u8; 4] @52 — "Required for 8-byte alignment to 56 bytes"
        .field(52, &[0; 4]);
    assert_eq!(body.0.len(), 56);
    let mut payload = vec![2, 56];
    payload.extend_from_slice(&body.0);
    assert_eq!(encode_payload(&[Message::Quote(quote)]).unwrap(), payload);
    assert_eq!(
        decode_payload(&payload).unwrap().messages,
        vec![Message::Quote(quote)]
    );
}

#[test]
fn pool_swap_and_sync_follow_define_tlv_ordering_with_u128_first() {
    let (pool, weth, usdc) = ([0xAA; 20], [0xBB; 20], [0xCC; 20]);
    let swap = PoolSwap {
        venue: 202,
        pool_address: pool,
        token_in: weth,
        token_out: usdc,
        amount_in: 10u128.pow(18),
        amount_out: 2_990_000_000,
        liquidity_after: 0,
        timestamp_ns: 5,
        block_number: 6,
        tick_after: -1,
        amount_in_decimals: 18,
        amount_out_decimals: 6,
        sqrt_price_x96_after: 1 << 96,
    };
    let body = Golden(Vec::new())
        // PoolSwapTLV u128 group: amount_in @0, amount_out @16, liquidity_after @32
        .field(0, &le(10u128.pow(18), 16))
        .field(16, &le(2_990_000_000, 16))
        .field(32, &le(0, 16))
        // u64 group: timestamp_ns @48, block_number @56
        .field(48, &le(5, 8))
        .field(56, &le(6, 8))
        // u32 group: tick_after: i32 @64 = -1
        .field(64, &(-1i32).to_le_bytes())
        // u16 group: venue @68 = VenueId::Polygon = 202
        .field(68, &le(202, 2))
        // u8 group: amount_in_decimals @70, amount_out_decimals @71, _padding [u8; 8] @72
        .field(70, &[18, 6])
        .field(72, &[0; 8])
        // special: pool_address [20] + padding [12] @80, token_in @112, token_out @144
        .field(80, &pool)
        .field(100, &[0; 12])
        .field(112, &weth)
        .field(132, &[0; 12])
        .field(144, &usdc)
        .field(164, &[0; 12])
        // sqrt_price_x96_after: [u8; 32] @176, the u128 in its first 16 bytes LE
        .field(176, &le(1 << 96, 16))
        .field(192, &[0; 16]);
    assert_eq!(body.0.len(), 208);
    let message = Message::PoolSwap(swap);
    assert_eq!(message.body(), body.0);
    let mut payload = vec![11, 208];
    payload.extend_from_slice(&body.0);
    assert_eq!(decode_payload(&payload).unwrap().messages, vec![message]);

    let sync = PoolSync {
        venue: 202,
        pool_address: pool,
        token0: weth,
        token1: usdc,
        reserve0: 1000 * 10u128.pow(18),
        reserve1: 3_000_000 * 10u128.pow(6),
        timestamp_ns: 7,
        block_number: 8,
        token0_decimals: 18,
        token1_decimals: 6,
    };
    let body = Golden(Vec::new())
        // PoolSyncTLV (define_tlv_with_padding!, size 160): reserve0 @0, reserve1 @16
        .field(0, &le(1000 * 10u128.pow(18), 16))
        .field(16, &le(3_000_000 * 10u128.pow(6), 16))
        // timestamp_ns @32, block_number @40, venue @48
        .field(32, &le(7, 8))
        .field(40, &le(8, 8))
        .field(48, &le(202, 2))
        // token0_decimals @50, token1_decimals @51, _padding [u8; 12] @52
        .field(50, &[18, 6])
        .field(52, &[0; 12])
        // pool_address @64, token0_addr @96, token1_addr @128 (each + 12 padding)
        .field(64, &pool)
        .field(84, &[0; 12])
        .field(96, &weth)
        .field(116, &[0; 12])
        .field(128, &usdc)
        .field(148, &[0; 12]);
    assert_eq!(body.0.len(), 160);
    assert_eq!(Message::PoolSync(sync).body(), body.0);
    let mut payload = vec![16, 160];
    payload.extend_from_slice(&body.0);
    assert_eq!(
        decode_payload(&payload).unwrap().messages,
        vec![Message::PoolSync(sync)]
    );
}

#[test]
fn the_arbitrage_signal_is_the_packed_170_byte_struct() {
    let signal = ArbitrageSignal {
        strategy_id: 21,
        signal_id: 0x1122_3344_5566_7788,
        chain_id: 137,
        source_pool: [1; 20],
        target_pool: [2; 20],
        source_venue: 400,
        target_venue: 401,
        token_in: [3; 20],
        token_out: [4; 20],
        expected_profit_usd: Fixed(10_000_000_000),
        required_capital_usd: Fixed(1_000_000_000_000),
        spread_bps: 80,
        dex_fees_usd: Fixed(6_000_000_000),
        gas_cost_usd: Fixed(1_000_000),
        slippage_usd: Fixed(1_000_000_000),
        net_profit_usd: Fixed(2_999_000_000),
        slippage_tolerance_bps: 50,
        max_gas_price_gwei: 100,
        valid_until: 1_700_000_300,
        priority: 800,
        timestamp_ns: 1_700_000_000_000_000_000,
    };
    // ArbitrageSignalTLV is #[repr(C, packed)]: declaration order, no padding.
    let body = Golden(Vec::new())
        .field(0, &le(21, 2)) // strategy_id: u16 (21: flash arbitrage)
        .field(2, &le(0x1122_3344_5566_7788, 8)) // signal_id: u64
        .field(10, &le(137, 4)) // chain_id: u32 (Polygon)
        .field(14, &[1; 20]) // source_pool: [u8; 20]
        .field(34, &[2; 20]) // target_pool: [u8; 20]
        .field(54, &le(400, 2)) // source_venue: u16 (VenueId::QuickSwap)
        .field(56, &le(401, 2)) // target_venue: u16 (VenueId::SushiSwapPolygon)
        .field(58, &[3; 20]) // token_in: [u8; 20]
        .field(78, &[4; 20]) // token_out: [u8; 20]
        .field(98, &le(10_000_000_000, 8)) // expected_profit_usd_q8: i64 ($100)
        .field(106, &le(1_000_000_000_000, 8)) // required_capital_usd_q8: i64 ($10,000)
        .field(114, &le(80, 2)) // spread_bps: u16
        .field(116, &le(6_000_000_000, 8)) // dex_fees_usd_q8: i64 ($60)
        .field(124, &le(1_000_000, 8)) // gas_cost_usd_q8: i64 ($0.01)
        .field(132, &le(1_000_000_000, 8)) // slippage_usd_q8: i64 ($10)
        .field(140, &le(2_999_000_000, 8)) // net_profit_usd_q8: i64 ($29.99)
        .field(148, &le(50, 2)) // slippage_tolerance_bps: u16
        .field(150, &le(100, 4)) // max_gas_price_gwei: u32
        .field(154, &le(1_700_000_300, 4)) // valid_until: u32
        .field(158, &le(800, 2)) // priority: u16
        .field(160, &[0, 0]) // reserved: [u8; 2]
        .field(162, &le(1_700_000_000_000_000_000, 8)); // timestamp_ns: u64
    assert_eq!(body.0.len(), 170);
    let message = Message::ArbitrageSignal(signal);
    assert_eq!(message.body(), body.0);
    let mut payload = vec![32, 170];
    payload.extend_from_slice(&body.0);
    assert_eq!(decode_payload(&payload).unwrap().messages, vec![message]);
    // The dashboard's JSON uses the original message_converter's names.
    let json = serde_json::to_value(
        Event::from_message(&decode_payload(&payload).unwrap().messages[0]).unwrap(),
    )
    .unwrap();
    assert_eq!(json["msg_type"], "arbitrage_opportunity");
    assert_eq!(
        (json["dex_buy"].as_str(), json["dex_sell"].as_str()),
        (Some("quickswap"), Some("sushiswap"))
    );
    assert_eq!(json["net_profit_usd"], 29.99);
    assert_eq!(json["signal_id"], "1234605616436508552");
}

#[test]
fn heartbeat_and_order_request_fit_the_registry_sizes() {
    // Heartbeat: the registry's Fixed(16); the original has no struct, torq
    // carries timestamp_ns u64 @0, uptime_s u32 @8, connections u32 @12.
    let heartbeat = Heartbeat {
        timestamp_ns: 9,
        uptime_s: 10,
        connections: 3,
    };
    let body = Golden(Vec::new())
        .field(0, &le(9, 8))
        .field(8, &le(10, 4))
        .field(12, &le(3, 4));
    assert_eq!(Message::Heartbeat(heartbeat).body(), body.0);
    // OrderRequest: the registry's Fixed(32); torq's layout.
    let order = OrderRequest {
        instrument: InstrumentId::coin(101, "BTC/USD"),
        price: Fixed(6_000_000_000_000),
        quantity: Fixed(50_000_000),
        signal_id: 7,
        side: Side::Buy,
    };
    let body = Golden(Vec::new())
        .field(0, &BTC_USD_ASSET_ID.to_le_bytes()) // asset_id: u64
        .field(8, &le(6_000_000_000_000, 8)) // price: i64
        .field(16, &le(50_000_000, 8)) // quantity: i64
        .field(24, &le(7, 4)) // signal_id: u32
        .field(28, &le(101, 2)) // venue: u16 (Kraken)
        .field(30, &[51, 0]); // asset_type: u8 (Coin), side: u8 (0 buy)
    assert_eq!(Message::OrderRequest(order).body(), body.0);
    let mut payload = vec![100, 16];
    payload.extend_from_slice(&Message::Heartbeat(heartbeat).body());
    payload.extend_from_slice(&[40, 32]);
    payload.extend_from_slice(&body.0);
    assert_eq!(
        decode_payload(&payload).unwrap().messages,
        vec![Message::Heartbeat(heartbeat), Message::OrderRequest(order)]
    );
}

#[test]
fn readers_skip_unknown_records_in_both_forms() {
    let mut payload = Vec::new();
    // An unknown standard record (type 5, L2Snapshot, which torq does not read).
    payload.extend_from_slice(&[5, 3, 0xAA, 0xBB, 0xCC]);
    // The extended form (TLVMessageBuilder for > 255 bytes): 255, reserved 0,
    // the real type, length u16 LE, value — here an OrderBook (3) of 300 bytes.
    payload.extend_from_slice(&[255, 0, 3, 0x2C, 0x01]);
    payload.extend_from_slice(&[0u8; 300]);
    payload.extend_from_slice(&trade_payload());
    let decoded = decode_payload(&payload).expect("records");
    assert_eq!(decoded.skipped, 2);
    assert_eq!(decoded.messages, vec![Message::Trade(trade())]);
}
