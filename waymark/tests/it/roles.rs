//! `waymark serve --role` as the README's deployment guide sets it up: three processes over
//! one store — ingest and web on one, the pipeline worker on another, the tile builder and
//! tile routes on a third — with the metadata and job queue in PostgreSQL and the blobs in an
//! S3-compatible server (both real, on loopback). A real upload to the first goes through the
//! second's vision into the third's tiles; each process serves only its own routes; the
//! worker drains on SIGTERM.

use model::{DeviceKeypair, Fix};
use tiles::TileCoord;

use crate::Server;
use crate::live_tiles::{LANES, lane, munich, sign_up, upload_capture, wait_for_frames};

#[path = "../../../store/tests/it/moto.rs"]
mod moto;
#[path = "../../../store/tests/it/postgres.rs"]
mod postgres;

#[test]
fn three_roles_over_postgres_and_s3() {
    let s3 = moto::Moto::start();
    let database = postgres::Postgres::start();
    let database_url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(database.fresh_database());
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("waymark.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nblobs_url = \"{}\"\ndatabase_url = \"{database_url}\"\n",
            s3.bucket("waymark-roles")
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let front = Server::start(data.path(), &["--config", config, "--role", "ingest,web"]);
    let worker = Server::start(data.path(), &["--config", config, "--role", "worker"]);
    let tiles = Server::start(data.path(), &["--config", config, "--role", "tiles"]);

    // A contributor signs up and uploads real frames to the ingest node.
    let key = DeviceKeypair::from_seed([11; 32]);
    sign_up(front.addr, &key);
    let drive = munich();
    let fixes: Vec<Fix> = (0..3).map(|i| drive[500 + i * 4]).collect();
    let jpegs: Vec<Vec<u8>> = LANES[..3].iter().map(|n| lane(n)).collect();
    let accepted = upload_capture(front.addr, &key, 1, &jpegs, &fixes);
    let (frame, fix) = accepted.iter().next().unwrap();
    // The worker processed it (vision, public copy in S3), the tiles node drew it.
    let ids: Vec<&String> = accepted.keys().collect();
    wait_for_frames(
        tiles.addr,
        TileCoord::containing(fix.lon, fix.lat, 14),
        &ids,
    );
    let image = front.get(&format!("/api/v1/frames/{frame}/image.jpg"));
    assert_eq!(
        image.status, 200,
        "the web node serves the blurred copy from S3"
    );
    assert!(image.bytes.starts_with(&[0xFF, 0xD8]));

    // Each process serves its own routes only; every one answers health checks.
    let tile = TileCoord::containing(fix.lon, fix.lat, 14);
    let tile_path = format!("/tiles/14/{}/{}.mvt", tile.x, tile.y);
    assert_eq!(
        front.get(&tile_path).status,
        404,
        "no tiles on the ingest+web node"
    );
    assert_eq!(tiles.get(&format!("/api/v1/frames/{frame}")).status, 404);
    assert_eq!(worker.get(&format!("/api/v1/frames/{frame}")).status, 404);
    assert_eq!(worker.get("/").status, 404, "no web page on the worker");
    for server in [&front, &worker, &tiles] {
        let health = server.get("/health");
        assert_eq!(health.status, 200);
        assert!(
            !health.body.contains("secret"),
            "the blob URL's credentials stay private: {}",
            health.body
        );
    }

    // SIGTERM drains the worker: it stops taking jobs and exits cleanly.
    let (status, stderr) = worker.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("pipeline worker stopped"), "{stderr}");
    for server in [front, tiles] {
        let (status, stderr) = server.terminate();
        assert!(status.success(), "{stderr}");
    }
    assert!(
        !data.path().join("waymark.db").exists(),
        "no SQLite file: the metadata is in PostgreSQL"
    );
}
