//! The evaluation harness on the committed labelled set.

#[test]
fn labelled_set_meets_the_bar() {
    let report = vision::evaluate(std::path::Path::new(vision::LABELLED_SET)).expect("evaluates");
    println!("{report}");
    for check in ["blurred", "broken"] {
        let counts = report.counts(check).expect("check present");
        assert!(
            counts.precision() >= 0.9 && counts.recall() >= 0.9,
            "{check}: {counts:?}\n{report}"
        );
    }
    let faces = report.counts("faces").expect("faces");
    assert_eq!(
        faces.false_negatives, 0,
        "every labelled face is blurred\n{report}"
    );
    let plates = report.counts("plates").expect("plates");
    assert!(
        plates.true_positives >= 3,
        "the readable plates of the plates/ photos are blurred\n{report}"
    );
}
