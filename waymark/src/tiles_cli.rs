//! `waymark tiles build|export`: the tile builder and exports, run against the store and
//! the live MBTiles file the settings name, with a one-line summary on stdout.

use anyhow::Context;
use store::Store;
use tiles::{MbTiles, TileBuilder, export};

use crate::cli::TilesCommand;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &TilesCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let data_dir = settings.absolute_data_dir()?;
        let mbtiles_path = settings.tiles.mbtiles_path(&data_dir);
        match command {
            TilesCommand::Build => {
                let store = Store::open(&settings.store_config(&data_dir))
                    .await
                    .with_context(|| format!("cannot open the store under {}", data_dir.display()))?;
                let mbtiles = MbTiles::open(&mbtiles_path).await?;
                let mut builder =
                    TileBuilder::new(&store, mbtiles.clone(), settings.tiles.config());
                let summary = builder.build_all(model::TimestampMs::now().as_millis()).await?;
                let seconds = summary.elapsed.as_secs_f64();
                println!(
                    "built {} tiles from {} frames in {} cells into {} in {seconds:.2} s ({:.0} tiles/s; {} thinned to fit the budget)",
                    summary.tiles.written + summary.tiles.unchanged,
                    builder.state().frame_count(),
                    builder.state().cell_count(),
                    mbtiles_path.display(),
                    summary.tiles_rendered as f64 / seconds.max(1e-9),
                    summary.thinned,
                );
                mbtiles.close().await;
                store.db.pool().close().await;
            }
            TilesCommand::Basemap { pbf } => {
                let network = datasets::RoadNetwork::from_pbf(pbf)
                    .with_context(|| format!("cannot read the road network {}", pbf.display()))?;
                let path = settings.tiles.basemap_path(&data_dir);
                let tiles = build_basemap_async(&network, &path).await?;
                println!(
                    "built the base map: {} roads in {tiles} tiles into {}",
                    network.ways.len(),
                    path.display()
                );
            }
            TilesCommand::Export { pmtiles, mbtiles } => {
                if !mbtiles_path.exists() {
                    anyhow::bail!(
                        "there is no tileset at {} yet; run `waymark tiles build` first",
                        mbtiles_path.display()
                    );
                }
                let live = MbTiles::open(&mbtiles_path).await?;
                let (out, summary) = match (pmtiles, mbtiles) {
                    (Some(out), _) => (out, export::to_pmtiles(&live, out).await?),
                    (None, Some(out)) => (out, export::to_mbtiles(&live, out).await?),
                    (None, None) => anyhow::bail!("pass --pmtiles FILE or --mbtiles FILE"),
                };
                println!(
                    "exported {} tiles ({} bytes) to {}",
                    summary.tiles,
                    summary.bytes,
                    out.display()
                );
                live.close().await;
            }
        }
        Ok(())
    })
}

/// Writes a road network as the base map's tileset at `path` (replacing its tiles);
/// returns the number of tiles.
pub fn build_basemap(
    network: &datasets::RoadNetwork,
    path: &std::path::Path,
) -> anyhow::Result<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(build_basemap_async(network, path))
}

async fn build_basemap_async(
    network: &datasets::RoadNetwork,
    path: &std::path::Path,
) -> anyhow::Result<usize> {
    let roads = tiles::basemap::RoadMap::new(network.ways.iter().map(|way| tiles::basemap::Road {
        class: way.class.as_str().to_owned(),
        name: way.name.clone(),
        coords: way.coords.clone(),
    }));
    let mbtiles = MbTiles::open(path).await?;
    let written = tiles::basemap::build(&roads, &mbtiles).await?;
    mbtiles.close().await;
    Ok(written.written + written.unchanged)
}
