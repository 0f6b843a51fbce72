//! A server that fails: 500s that pass, 500s that do not, and a server that never answers.
//! Typed errors, and nothing spooled is lost.

use std::net::TcpListener;
use std::time::Duration;

use dashcam_agent::{Agent, AgentConfig, Error, UploadConfig};
use model::{DeviceKeypair, FixType, TimestampMs};

use crate::{Server, dataset, spooled};

/// An agent with `n` frames spooled and sealed (real JPEGs at fixes 10 m apart).
fn agent_with_frames(dir: &std::path::Path, key: DeviceKeypair, n: usize) -> Agent {
    let config = AgentConfig {
        trim_m: 0.0,
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, dir, key).unwrap();
    let jpeg = std::fs::read(dataset("images/udacity_lanes/solidWhiteRight.jpg")).unwrap();
    let now = TimestampMs::now().as_millis() - 60_000;
    for i in 0..n {
        let fix = model::Fix {
            time: TimestampMs(now + i as i64 * 1_000),
            lat: 52.0 + i as f64 * 10.0 / 111_195.0,
            lon: 4.37,
            alt: Some(3.0),
            heading: Some(0.0),
            speed: Some(10.0),
            fix_type: FixType::Fix3d,
            satellites: 8,
            hdop: 1.0,
        };
        agent.offer(&jpeg, &fix).unwrap();
    }
    assert_eq!(agent.finish_trip().unwrap().spooled, n as u64);
    agent
}

fn quick(url: &str) -> UploadConfig {
    UploadConfig {
        timeout: Duration::from_millis(500),
        max_attempts: 4,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..UploadConfig::new(url)
    }
}

#[test]
fn a_server_that_returns_500_then_recovers_gets_everything() {
    let server_dir = tempfile::tempdir().unwrap();
    // Requests 0 and 1 register the device; the next three answer 500.
    let server = Server::start_failing(server_dir.path(), 2..5);
    let key = DeviceKeypair::from_seed([11; 32]);
    server.register(&key);
    let spool = tempfile::tempdir().unwrap();
    let mut agent = agent_with_frames(spool.path(), key, 4);
    let summary = agent
        .upload_pending(&quick(&server.url), &mut || {})
        .unwrap();
    assert_eq!(summary.captures_acknowledged, 1);
    assert_eq!(summary.frames_sent, 4);
    assert_eq!(summary.frames_pending, 4);
    assert!(server.requests.load(std::sync::atomic::Ordering::SeqCst) >= 2 + 3 + 4 + 2);
    assert!(spooled(spool.path()).is_empty());
}

#[test]
fn a_server_that_keeps_failing_or_hangs_is_a_typed_error_and_nothing_is_lost() {
    let key = DeviceKeypair::from_seed([12; 32]);
    let spool = tempfile::tempdir().unwrap();
    let mut agent = agent_with_frames(spool.path(), key, 3);

    let broken_dir = tempfile::tempdir().unwrap();
    let broken = Server::start_failing(broken_dir.path(), 0..usize::MAX);
    let err = agent
        .upload_pending(&quick(&broken.url), &mut || {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(spooled(spool.path()).len(), 3);

    // Accepts connections, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let err = agent.upload_pending(&quick(&url), &mut || {}).unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { attempts: 4, .. }),
        "{err}"
    );
    assert_eq!(spooled(spool.path()).len(), 3);
    drop(listener);

    // An unregistered device is refused, not retried.
    let fine_dir = tempfile::tempdir().unwrap();
    let fine = Server::start(fine_dir.path());
    let err = agent
        .upload_pending(&quick(&fine.url), &mut || {})
        .unwrap_err();
    assert!(matches!(err, Error::Refused { status: 401, .. }), "{err}");
    assert_eq!(spooled(spool.path()).len(), 3);
    // Registered, the same spool goes through.
    fine.register(&DeviceKeypair::from_seed([12; 32]));
    let summary = agent.upload_pending(&quick(&fine.url), &mut || {}).unwrap();
    assert_eq!(summary.frames_sent, 3);
    assert!(spooled(spool.path()).is_empty());
}

#[test]
fn a_frame_the_server_refuses_is_dropped_and_the_rest_goes_through() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = Server::start(server_dir.path());
    let key = DeviceKeypair::from_seed([13; 32]);
    server.register(&key);
    let spool = tempfile::tempdir().unwrap();
    // A device whose size gate is looser than the server's 25 KB minimum.
    let mut config = AgentConfig {
        trim_m: 0.0,
        ..AgentConfig::default()
    };
    config.sampling.min_frame_bytes = 10_000;
    let mut agent = Agent::new(config, spool.path(), key).unwrap();
    let small = std::fs::read(dataset("images/opencv/white_car.jpg")).unwrap();
    let lane = std::fs::read(dataset("images/udacity_lanes/solidWhiteRight.jpg")).unwrap();
    let now = TimestampMs::now().as_millis() - 60_000;
    for (i, jpeg) in [&lane, &small, &lane].into_iter().enumerate() {
        let fix = model::Fix {
            time: TimestampMs(now + i as i64 * 1_000),
            lat: 52.0 + i as f64 * 10.0 / 111_195.0,
            lon: 4.37,
            alt: None,
            heading: Some(0.0),
            speed: Some(10.0),
            fix_type: FixType::Fix3d,
            satellites: 8,
            hdop: 1.0,
        };
        agent.offer(jpeg, &fix).unwrap();
    }
    agent.finish_trip().unwrap();
    let summary = agent
        .upload_pending(&quick(&server.url), &mut || {})
        .unwrap();
    assert_eq!(summary.frames_refused, 1);
    assert_eq!(summary.captures_acknowledged, 1);
    assert_eq!(summary.frames_pending, 2);
    assert!(spooled(spool.path()).is_empty());
    let state = agent.spool().state().unwrap();
    assert_eq!(state.drops.get("refused_by_server"), Some(&1));
}
