//! Counter-based pseudo-randomness: every draw is a pure hash of a seed and
//! coordinates (instrument, time, purpose), so a feed is reproducible from its
//! seed and any instant can be computed without replaying the ones before it.

/// The SplitMix64 finalizer: a strong 64-bit mixer.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a seed and coordinates.
pub fn hash(seed: u64, coordinates: &[u64]) -> u64 {
    coordinates.iter().fold(mix(seed), |h, c| {
        mix(h ^ mix(c.wrapping_add(0x632B_E59B_D9B4_E019)))
    })
}

/// A uniform draw in `[0, 1)`.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Box–Muller).
pub fn normal(h: u64) -> f64 {
    let u1 = unit(mix(h)).max(f64::MIN_POSITIVE);
    let u2 = unit(mix(h ^ 0xA5A5_A5A5_A5A5_A5A5));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A stable 64-bit key of a name (FNV-1a).
pub fn key(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_depend_on_every_coordinate() {
        assert_eq!(hash(1, &[2, 3]), hash(1, &[2, 3]));
        assert_ne!(hash(1, &[2, 3]), hash(1, &[3, 2]));
        assert_ne!(hash(1, &[2, 3]), hash(2, &[2, 3]));
        assert_ne!(key("BTC/USD"), key("ETH/USD"));
    }

    #[test]
    fn uniform_and_normal_draws_have_the_right_moments() {
        let n = 20_000;
        let units: Vec<f64> = (0..n).map(|i| unit(hash(7, &[i]))).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = units.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let normals: Vec<f64> = (0..n).map(|i| normal(hash(7, &[i]))).collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let var = normals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }
}
