//! Table tests of the place consensus.

use crate::{DeviceId, Fix, FixType, RejectReason, TimestampMs};
use rstest::rstest;

use super::*;

fn device(n: u128) -> DeviceId {
    format!("00000000-0000-0000-0000-{n:012}").parse().unwrap()
}

/// A flat fingerprint at `level`: two of them are `|a − b|` apart.
fn print(level: f32) -> Fingerprint {
    Fingerprint(vec![level; 576])
}

fn view(n: u128, heading: Option<f64>, level: f32) -> View {
    View {
        device: device(n),
        heading,
        print: print(level),
    }
}

fn mapped(level: f32) -> Vec<View> {
    vec![
        view(2, Some(90.0), level),
        view(3, Some(100.0), level + 0.1),
        view(3, Some(80.0), level - 0.1),
    ]
}

#[rstest]
#[case::same_place(mapped(0.0), Some(90.0), 0.2, Agreement::Like)]
#[case::another_place(mapped(0.0), Some(90.0), 1.0, Agreement::Unlike { nearest: 0.9 })]
#[case::no_heading(mapped(0.0), None, 1.0, Agreement::Unjudged)]
#[case::two_views(mapped(0.0)[..2].to_vec(), Some(90.0), 1.0, Agreement::Unjudged)]
#[case::one_other_device(vec![view(2, Some(90.0), 0.0); 5], Some(90.0), 1.0, Agreement::Unjudged)]
#[case::own_views_do_not_count(
    vec![view(1, Some(90.0), 0.0), view(1, Some(90.0), 0.0), view(2, Some(90.0), 0.0), view(3, Some(90.0), 0.0)],
    Some(90.0), 1.0, Agreement::Unjudged)]
#[case::opposite_direction(mapped(0.0), Some(270.0), 1.0, Agreement::Unjudged)]
#[case::across_north(
    vec![view(2, Some(350.0), 0.0), view(3, Some(10.0), 0.0), view(4, Some(5.0), 0.0)],
    Some(0.0), 0.1, Agreement::Like)]
#[case::views_without_heading(
    vec![view(2, None, 0.0), view(3, None, 0.0), view(4, None, 0.0)],
    Some(0.0), 1.0, Agreement::Unjudged)]
fn a_frame_against_the_views_of_its_place(
    #[case] views: Vec<View>,
    #[case] heading: Option<f64>,
    #[case] level: f32,
    #[case] expected: Agreement,
) {
    let got = agreement(
        &print(level),
        heading,
        device(1),
        &views,
        &ConsensusConfig::default(),
    );
    match (got, expected) {
        (Agreement::Unlike { nearest }, Agreement::Unlike { nearest: want }) => {
            assert!((nearest - want).abs() < 1e-4, "{nearest} vs {want}");
        }
        _ => assert_eq!(got, expected),
    }
}

const LIKE: Agreement = Agreement::Like;
const UNLIKE: Agreement = Agreement::Unlike { nearest: 1.0 };
const UNJUDGED: Agreement = Agreement::Unjudged;

#[rstest]
#[case::all_like(vec![LIKE; 10], false)]
#[case::nothing_judged(vec![UNJUDGED; 10], false)]
#[case::one_odd_frame(vec![LIKE, LIKE, UNLIKE, LIKE], false)]
#[case::two_unlike_only(vec![UNLIKE, UNLIKE, UNJUDGED, UNJUDGED], false)]
#[case::three_unlike_of_three(vec![UNLIKE, UNLIKE, UNLIKE, UNJUDGED], true)]
#[case::half_unlike(vec![UNLIKE, LIKE, UNLIKE, LIKE, UNLIKE, LIKE], true)]
#[case::a_third_unlike(vec![UNLIKE, LIKE, LIKE, UNLIKE, LIKE, LIKE, UNLIKE, LIKE, LIKE], false)]
fn a_capture_is_held_when_most_judged_frames_are_unlike(
    #[case] agreements: Vec<Agreement>,
    #[case] held: bool,
) {
    assert_eq!(
        capture_disagrees(&agreements, &ConsensusConfig::default()),
        held
    );
}

fn fit(like: usize, unlike: usize) -> PlaceFit {
    PlaceFit { like, unlike }
}

const HELD: Option<RejectReason> = Some(RejectReason::UnlikePlace);
const WITH_IT: Option<RejectReason> = Some(RejectReason::UnvouchedPlace);

#[rstest]
#[case::honest_week(vec![fit(5, 0), fit(0, 0), fit(3, 1), fit(0, 2)], 0, vec![None; 4])]
#[case::one_capture_unlike_may_be_the_place(
    vec![fit(0, 4), fit(0, 0), fit(1, 0)],
    0,
    vec![HELD, None, None]
)]
#[case::caught_here_holds_the_unchecked(
    vec![fit(0, 4), fit(0, 0), fit(1, 0), fit(2, 2), fit(1, 5)],
    0,
    vec![HELD, WITH_IT, WITH_IT, WITH_IT, HELD]
)]
#[case::caught_here_spares_the_vouched(
    vec![fit(0, 4), fit(3, 0), fit(6, 2), fit(3, 3)],
    0,
    vec![HELD, None, None, HELD]
)]
#[case::caught_with_one_held_before(vec![fit(0, 0), fit(4, 1), fit(0, 3)], 1, vec![WITH_IT, None, HELD])]
#[case::caught_before_holds_the_unchecked(vec![fit(0, 0), fit(4, 1)], 2, vec![WITH_IT, None])]
#[case::one_held_before_alone_catches_nobody(vec![fit(0, 0), fit(0, 2)], 1, vec![None, None])]
fn a_device_caught_unlike_its_places_keeps_only_what_the_places_vouch_for(
    #[case] fits: Vec<PlaceFit>,
    #[case] held_before: usize,
    #[case] held: Vec<Option<RejectReason>>,
) {
    assert_eq!(
        device_holds(&fits, held_before, &ConsensusConfig::default()),
        held
    );
}

#[test]
fn a_place_fit_counts_like_and_unlike_frames_and_leaves_out_the_unjudged() {
    let agreements = [LIKE, UNLIKE, UNJUDGED, LIKE, UNLIKE, UNLIKE];
    assert_eq!(PlaceFit::of(&agreements), fit(2, 3));
    assert_eq!(PlaceFit::of(&[]), fit(0, 0));
}

fn fix(lat: f64, lon: f64, heading: Option<f64>) -> Fix {
    Fix {
        time: TimestampMs(1_700_000_000_000),
        lat,
        lon,
        alt: None,
        heading,
        speed: None,
        fix_type: FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    }
}

#[test]
fn fingerprints_round_trip_and_only_compare_at_one_size() {
    let print = Fingerprint(vec![0.5, -1.25, 3.0]);
    assert_eq!(
        Fingerprint::from_bytes(&print.to_bytes()),
        Some(print.clone())
    );
    assert_eq!(Fingerprint::from_bytes(&[1, 2, 3]), None);
    assert_eq!(Fingerprint::from_bytes(&[]), None);
    assert_eq!(distance(&print, &print), 0.0);
    assert_eq!(distance(&print, &Fingerprint(vec![0.0; 2])), f32::INFINITY);
}

#[test]
fn a_heading_comes_from_the_fix_or_from_the_course() {
    let east = [
        fix(48.0, 11.0, None),
        fix(48.0, 11.0001, None),
        fix(48.0, 11.0002, None),
    ];
    let course = heading_at(&east, 1).expect("a course");
    assert!((course - 90.0).abs() < 0.1, "{course}");
    let last = heading_at(&east, 2).expect("from the fix before");
    assert!((last - 90.0).abs() < 0.1, "{last}");
    let own = [fix(48.0, 11.0, Some(-10.0))];
    assert_eq!(heading_at(&own, 0), Some(350.0));
    let parked = [fix(48.0, 11.0, None), fix(48.0, 11.0, None)];
    assert_eq!(heading_at(&parked, 1), None);
    assert_eq!(heading_at(&parked, 5), None);
}

proptest::proptest! {
    /// The bounded distance is the distance when it is below the bound, to the bit, and
    /// nothing when it is not: the footage index's early stop never changes a finding.
    #[test]
    fn distance_below_is_the_distance_when_below_and_none_otherwise(
        pair in proptest::strategy::Strategy::prop_flat_map(1usize..300, |len| (
            proptest::collection::vec(-4.0f32..4.0, len),
            proptest::collection::vec(-4.0f32..4.0, len),
        )),
        bound in 0.0f32..3.0,
        scale in 0.0f32..1.0,
    ) {
        let (a, b) = pair;
        // Bring b towards a so that every range of distances is seen, near ones included.
        let b: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + (y - x) * scale * scale).collect();
        let (a, b) = (Fingerprint(a), Fingerprint(b));
        let exact = distance(&a, &b);
        let bounded = distance_below(&a, &b, bound);
        if exact < bound {
            proptest::prop_assert_eq!(bounded.map(f32::to_bits), Some(exact.to_bits()));
        } else {
            proptest::prop_assert_eq!(bounded, None);
        }
    }
}

#[test]
fn distance_below_never_compares_prints_of_two_sizes() {
    let (short, long) = (Fingerprint(vec![0.0; 4]), Fingerprint(vec![0.0; 5]));
    assert_eq!(distance_below(&short, &long, f32::INFINITY), None);
    assert_eq!(
        distance_below(&Fingerprint(vec![]), &Fingerprint(vec![]), 1.0),
        None
    );
    assert_eq!(
        distance_below(&short, &short, 0.0),
        None,
        "0 is not below 0"
    );
    assert_eq!(distance_below(&short, &short, 0.1), Some(0.0));
}
