//! Splitting an integer amount pro rata: by floor, the dust left over, or with the
//! largest-remainder (Hamilton) rule, which hands the dust out.

/// Splits `total` in proportion to `weights`: each gets `floor(total × w / W)`, and the units
/// left over go one each to the largest remainders, ties to the earlier entry (callers pass
/// entries sorted by id). The parts always sum to `total` when `W > 0`; with `W = 0`
/// nothing is split and every part is 0.
pub fn largest_remainder<K>(total: u128, weights: &[(K, u128)]) -> Vec<u128> {
    let sum: u128 = weights.iter().map(|(_, w)| *w).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (index, (_, weight)) in weights.iter().enumerate() {
        let (quotient, remainder) = mul_div_rem(total, *weight, sum);
        parts.push(quotient);
        remainders.push((remainder, index));
    }
    let handed_out: u128 = parts.iter().sum();
    let left = usize::try_from(total - handed_out).expect("fewer units left than entries");
    // Largest remainder first; ties to the smaller index.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.into_iter().take(left) {
        parts[index] += 1;
    }
    parts
}

/// Splits `total` in proportion to `weights`: each gets `floor(total × w / W)`, and the units
/// left over (fewer than the entries) are nobody's. Splitting one weight into several never
/// gains: `floor(x) + floor(y) ≤ floor(x + y)`. With `W = 0` every part is 0.
pub fn floor_shares<K>(total: u128, weights: &[(K, u128)]) -> Vec<u128> {
    let sum: u128 = weights.iter().map(|(_, w)| *w).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    weights
        .iter()
        .map(|(_, weight)| mul_div_rem(total, *weight, sum).0)
        .collect()
}

/// `(a × b) / c` and its remainder without overflow, for `b ≤ c`.
pub(crate) fn mul_div_rem(a: u128, b: u128, c: u128) -> (u128, u128) {
    // a × b may exceed u128; split a = q·c + r so that a × b / c = q·b + r·b / c,
    // where r·b < c·c. c is a sum of points: far below 2^64 in practice; fall back to
    // 256-bit long multiplication otherwise.
    let (q, r) = (a / c, a % c);
    match r.checked_mul(b) {
        Some(rb) => (q * b + rb / c, rb % c),
        None => {
            let (hi, lo) = wide_mul(r, b);
            let (quotient, remainder) = wide_div(hi, lo, c);
            (q * b + quotient, remainder)
        }
    }
}

fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    let mask = u128::from(u64::MAX);
    let (a_hi, a_lo) = (a >> 64, a & mask);
    let (b_hi, b_lo) = (b >> 64, b & mask);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let middle = (lo_lo >> 64) + (hi_lo & mask) + (lo_hi & mask);
    let lo = (middle << 64) | (lo_lo & mask);
    let hi = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (middle >> 64);
    (hi, lo)
}

/// Divides the 256-bit (hi, lo) by `d`, bit by bit; the quotient fits u128 by construction.
fn wide_div(hi: u128, lo: u128, d: u128) -> (u128, u128) {
    let mut remainder: u128 = 0;
    let mut quotient: u128 = 0;
    for i in (0..256).rev() {
        let bit = if i >= 128 {
            (hi >> (i - 128)) & 1
        } else {
            (lo >> i) & 1
        };
        let carry = remainder >> 127;
        remainder = (remainder << 1) | bit;
        if carry == 1 || remainder >= d {
            remainder = remainder.wrapping_sub(d);
            if i < 128 {
                quotient |= 1 << i;
            }
        }
    }
    (quotient, remainder)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn hand_checked_splits() {
        // 10 over 1:1:1 → 3.33 each; one unit left, to the first (ties by order).
        assert_eq!(
            largest_remainder(10, &[("a", 1), ("b", 1), ("c", 1)]),
            vec![4, 3, 3]
        );
        // 100 over 4:2:1 → 57.14, 28.57, 14.28 → the .57 remainder wins the extra unit.
        assert_eq!(
            largest_remainder(100, &[("a", 4), ("b", 2), ("c", 1)]),
            vec![57, 29, 14]
        );
        assert_eq!(largest_remainder(5, &[("a", 0), ("b", 0)]), vec![0, 0]);
        assert_eq!(largest_remainder::<&str>(5, &[]), Vec::<u128>::new());
    }

    #[test]
    fn floor_shares_leave_the_dust() {
        // 10 over 1:1:1 → 3 each, 1 unit left for nobody; over 4:2:1 of 100 → 57, 28, 14.
        assert_eq!(
            floor_shares(10, &[("a", 1), ("b", 1), ("c", 1)]),
            vec![3, 3, 3]
        );
        assert_eq!(
            floor_shares(100, &[("a", 4), ("b", 2), ("c", 1)]),
            vec![57, 28, 14]
        );
        assert_eq!(floor_shares(5, &[("a", 0), ("b", 0)]), vec![0, 0]);
        // One account with 1 point beside another with 2, of 10: 3 (3.33) and 6 (6.67). The
        // same account split in two of ½ point each: largest remainder hands both the .67
        // remainders a unit, 2 + 2 = 4 > 3; by floor it gets 1 + 1 = 2 ≤ 3.
        assert_eq!(floor_shares(10, &[("one", 1), ("other", 2)]), vec![3, 6]);
        let split = [("a", 1), ("b", 1), ("other", 4)];
        assert_eq!(floor_shares(10, &split), vec![1, 1, 6]);
        assert_eq!(largest_remainder(10, &split), vec![2, 2, 6]);
        assert_eq!(
            largest_remainder(10, &[("one", 1), ("other", 2)]),
            vec![3, 7]
        );
    }

    #[test]
    fn huge_amounts_do_not_overflow() {
        let total = u128::MAX / 3;
        let parts = largest_remainder(total, &[("a", u128::MAX / 7), ("b", u128::MAX / 5)]);
        assert_eq!(parts.iter().sum::<u128>(), total);
    }

    proptest! {
        #[test]
        fn parts_sum_exactly_and_stay_proportional(
            total in 0u128..10u128.pow(30),
            weights in prop::collection::vec(0u128..10u128.pow(15), 1..40),
        ) {
            let keyed: Vec<(usize, u128)> = weights.iter().copied().enumerate().collect();
            let parts = largest_remainder(total, &keyed);
            let sum: u128 = weights.iter().sum();
            if sum == 0 {
                prop_assert!(parts.iter().all(|p| *p == 0));
            } else {
                prop_assert_eq!(parts.iter().sum::<u128>(), total);
                for (part, weight) in parts.iter().zip(&weights) {
                    let exact_floor = mul_div_rem(total, *weight, sum).0;
                    prop_assert!(*part == exact_floor || *part == exact_floor + 1);
                }
            }
        }

        #[test]
        fn floor_shares_leave_less_than_one_unit_each_and_splitting_never_gains(
            total in 0u128..10u128.pow(30),
            weights in prop::collection::vec(1u128..10u128.pow(15), 1..40),
            split_at in 1u128..10u128.pow(15),
        ) {
            let keyed: Vec<(usize, u128)> = weights.iter().copied().enumerate().collect();
            let parts = floor_shares(total, &keyed);
            let paid: u128 = parts.iter().sum();
            prop_assert!(paid <= total && total - paid < weights.len() as u128);
            // The first weight split in two: the halves get no more than the whole, and every
            // other entry gets the same.
            let first = weights[0];
            let part = split_at % first;
            let mut halves = vec![(usize::MAX, part), (usize::MAX - 1, first - part)];
            halves.extend(keyed[1..].iter().copied());
            let split = floor_shares(total, &halves);
            prop_assert!(split[0] + split[1] <= parts[0]);
            prop_assert_eq!(&split[2..], &parts[1..]);
        }
    }
}
