//! `kill -9` of the `waymark-agent` binary while it spools and while it uploads: after a
//! restart every frame is on the server exactly once.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{Server, agent_bin, dataset, run_ok, spooled};

fn import_udacity(home: &Path) -> std::process::Command {
    let mut command = agent_bin(home);
    command
        .arg("import")
        .arg(dataset("video/udacity_solidWhiteRight.mp4"))
        .arg("--gps")
        .arg(dataset("gps/gpsbabel_sbn-v13.gpx"))
        .args(["--start", "2010-02-01T12:38:41Z", "--trim-m", "0"]);
    command
}

/// Waits until `ready` holds (or the child exits), then SIGKILLs the child.
fn kill_when(mut child: Child, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false; // finished before the condition: nothing was interrupted
        }
        if ready() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the condition never held");
}

#[test]
fn kill_9_while_spooling_and_while_uploading_loses_and_duplicates_nothing() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = Server::start(server_dir.path());
    let home = tempfile::tempdir().unwrap();
    let spool = home.path().join("spool");
    run_ok(agent_bin(home.path()).arg("keygen"));
    let token = server.sign_up();
    run_ok(
        agent_bin(home.path())
            .args(["register", "--server", &server.url, "--token", &token])
            .stdout(Stdio::null()),
    );
    // The reference: the same import in another home, uninterrupted.
    let reference_home = tempfile::tempdir().unwrap();
    std::fs::copy(
        home.path().join("device.key"),
        reference_home.path().join("device.key"),
    )
    .unwrap();
    run_ok(&mut import_udacity(reference_home.path()));
    let expected: HashSet<_> = spooled(&reference_home.path().join("spool"))
        .into_iter()
        .map(|(entry, _)| entry.sha256)
        .collect();
    assert!(expected.len() >= 15, "{}", expected.len());

    // 1. Killed while spooling, once a few frames are down.
    let child = import_udacity(home.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let interrupted = kill_when(child, || spooled(&spool).len() >= 3);
    assert!(interrupted, "the import finished before it could be killed");
    let partial = spooled(&spool).len();
    assert!(partial >= 3 && partial < expected.len(), "{partial}");
    // The restart imports again; frames already spooled are not spooled twice.
    run_ok(&mut import_udacity(home.path()));
    let after: HashSet<_> = spooled(&spool).into_iter().map(|(e, _)| e.sha256).collect();
    assert_eq!(after, expected);

    // 2. Killed while uploading: slowed to 150 KB/s, killed once the server has frames.
    let child = agent_bin(home.path())
        .args(["upload", "--bandwidth-kbps", "150"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let blobs = server_dir.path().join("blobs");
    let interrupted = kill_when(child, || count_files(&blobs.join("frames")) >= 3);
    assert!(interrupted, "the upload finished before it could be killed");
    run_ok(agent_bin(home.path()).arg("upload"));

    // Every frame on the server exactly once, and the spool empty.
    assert!(spooled(&spool).is_empty());
    let captures: Vec<String> = std::fs::read_dir(blobs.join("captures"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut on_server = Vec::new();
    for id in &captures {
        let capture = server.capture(id);
        for frame in capture["frames"].as_array().unwrap() {
            on_server.push(frame["sha256"].as_str().unwrap().parse().unwrap());
        }
    }
    let unique: HashSet<_> = on_server.iter().copied().collect();
    assert_eq!(
        unique.len(),
        on_server.len(),
        "a frame is on the server twice"
    );
    assert_eq!(unique, expected);
    let status = run_ok(agent_bin(home.path()).arg("status"));
    assert!(status.contains("0 frames waiting"), "{status}");
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() { count_files(&path) } else { 1 }
        })
        .sum()
}
