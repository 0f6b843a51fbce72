//! The blob conformance suite: every case runs against every backend.

use bytes::Bytes;
use model::FrameId;
use rstest::rstest;
use store::{BlobKey, BlobStore, Error, PutOutcome};

use crate::dataset;
use crate::moto::Moto;

enum Backend {
    Memory,
    LocalFs,
    S3,
}

/// What a backend lives in, kept alive for the test: a temporary directory, a moto server.
#[allow(dead_code)]
struct Held(tempfile::TempDir, Option<Moto>);

fn open(backend: Backend) -> (BlobStore, Held) {
    let dir = tempfile::tempdir().unwrap();
    let (url, moto) = match backend {
        Backend::Memory => ("memory://".to_owned(), None),
        Backend::LocalFs => (
            format!("file://{}", dir.path().join("blobs").display()),
            None,
        ),
        Backend::S3 => {
            let moto = Moto::start();
            (moto.bucket("waymark-test"), Some(moto))
        }
    };
    (BlobStore::from_url(&url).unwrap(), Held(dir, moto))
}

#[rstest]
#[case::memory(Backend::Memory)]
#[case::local_fs(Backend::LocalFs)]
#[case::s3(Backend::S3)]
#[tokio::test]
async fn a_real_frame_round_trips_byte_for_byte(#[case] backend: Backend) {
    let (blobs, _dir) = open(backend);
    let jpeg = Bytes::from(dataset("images/geotagged/mapillary_DSC00001.JPG"));
    let id = FrameId::of_bytes(&jpeg);
    let key = BlobKey::original_frame(&id);
    assert!(!blobs.exists(&key).await.unwrap());
    assert_eq!(
        blobs.put_if_absent(&key, jpeg.clone()).await.unwrap(),
        PutOutcome::Created
    );
    assert!(blobs.exists(&key).await.unwrap());
    let back = blobs.get(&key).await.unwrap();
    assert_eq!(back.len(), jpeg.len());
    assert_eq!(FrameId::of_bytes(&back), id);
}

#[rstest]
#[case::memory(Backend::Memory)]
#[case::local_fs(Backend::LocalFs)]
#[case::s3(Backend::S3)]
#[tokio::test]
async fn a_content_addressed_blob_is_never_replaced(#[case] backend: Backend) {
    let (blobs, _dir) = open(backend);
    let first = Bytes::from(dataset("images/udacity_lanes/solidWhiteCurve.jpg"));
    let key = BlobKey::original_frame(&FrameId::of_bytes(&first));
    assert_eq!(
        blobs.put_if_absent(&key, first.clone()).await.unwrap(),
        PutOutcome::Created
    );
    let impostor = Bytes::from_static(b"not the same bytes");
    assert_eq!(
        blobs.put_if_absent(&key, impostor).await.unwrap(),
        PutOutcome::AlreadyExisted
    );
    assert_eq!(blobs.get(&key).await.unwrap(), first);
}

#[rstest]
#[case::memory(Backend::Memory)]
#[case::local_fs(Backend::LocalFs)]
#[case::s3(Backend::S3)]
#[tokio::test]
async fn concurrent_creates_of_one_key_have_exactly_one_winner(#[case] backend: Backend) {
    let (blobs, _dir) = open(backend);
    let jpeg = Bytes::from(dataset("images/udacity_lanes/solidYellowLeft.jpg"));
    let key = BlobKey::original_frame(&FrameId::of_bytes(&jpeg));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (blobs, key, jpeg) = (blobs.clone(), key.clone(), jpeg.clone());
            tokio::spawn(async move { blobs.put_if_absent(&key, jpeg).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if task.await.unwrap() == PutOutcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(blobs.get(&key).await.unwrap(), jpeg);
}

#[rstest]
#[case::memory(Backend::Memory)]
#[case::local_fs(Backend::LocalFs)]
#[case::s3(Backend::S3)]
#[tokio::test]
async fn overwrite_list_and_delete(#[case] backend: Backend) {
    let (blobs, _dir) = open(backend);
    let id = FrameId::of_bytes(b"frame");
    let public = BlobKey::public_frame(&id);
    blobs.put(&public, Bytes::from_static(b"v1")).await.unwrap();
    blobs.put(&public, Bytes::from_static(b"v2")).await.unwrap();
    assert_eq!(blobs.get(&public).await.unwrap(), Bytes::from_static(b"v2"));
    blobs
        .put(&BlobKey::thumbnail(&id), Bytes::from_static(b"t"))
        .await
        .unwrap();

    let listed = blobs.list("frames/public").await.unwrap();
    assert_eq!(listed, vec![public.clone()]);
    assert_eq!(blobs.list("frames").await.unwrap().len(), 2);

    blobs.delete(&public).await.unwrap();
    blobs.delete(&public).await.unwrap(); // deleting twice is fine
    assert!(matches!(
        blobs.get(&public).await,
        Err(Error::BlobNotFound { .. })
    ));
    assert!(blobs.list("frames/public").await.unwrap().is_empty());
}

#[test]
fn keys_from_outside_cannot_escape_the_store() {
    for bad in [
        "../etc/passwd",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "a/../b",
        "",
        "a\\b",
    ] {
        assert!(
            matches!(BlobKey::parse(bad), Err(Error::BlobKey { .. })),
            "{bad:?}"
        );
    }
    assert_eq!(
        BlobKey::parse("manifests/2026-W48.json").unwrap().as_str(),
        "manifests/2026-W48.json"
    );
}

#[test]
fn frame_keys_are_sharded_by_hash() {
    let id: FrameId = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        .parse()
        .unwrap();
    assert_eq!(
        BlobKey::original_frame(&id).as_str(),
        "frames/original/ba/78/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.jpg"
    );
}

#[test]
fn unsupported_urls_say_what_to_use() {
    for url in ["file://relative/dir", "ftp://x"] {
        let err = BlobStore::from_url(url).unwrap_err().to_string();
        assert!(err.contains("file://"), "{url}: {err}");
    }
    let err = BlobStore::from_url("s3:///prefix").unwrap_err().to_string();
    assert!(err.contains("names a bucket"), "{err}");
    let err = BlobStore::from_url("s3://bucket?colour=red")
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"colour\" is not an S3 setting"), "{err}");
}

#[tokio::test]
async fn local_fs_writes_leave_no_partial_or_staging_files() {
    let (blobs, dir) = open(Backend::LocalFs);
    let jpeg = Bytes::from(dataset("images/udacity_lanes/whiteCarLaneSwitch.jpg"));
    let key = BlobKey::original_frame(&FrameId::of_bytes(&jpeg));
    blobs.put_if_absent(&key, jpeg.clone()).await.unwrap();
    let mut files = Vec::new();
    let mut stack = vec![dir.0.path().join("blobs")];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), jpeg);
}
