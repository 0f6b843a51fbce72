//! `waymark features export`: every map feature a filter keeps, as a GeoJSON
//! FeatureCollection or CSV, page by page from the store (the same filters and the same
//! forms as `GET /api/v1/features`).

use std::io::Write;

use anyhow::Context;
use ingest::feature_params::{FeatureParams, feature_query};
use ingest::features_api::{CSV_HEADER, feature_csv, feature_geojson};
use model::TimestampMs;
use store::MAX_FEATURE_PAGE;

use crate::cli::FeaturesCommand;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &FeaturesCommand) -> anyhow::Result<()> {
    let FeaturesCommand::Export {
        format,
        out,
        bbox,
        class,
        status,
        changed_since,
    } = command;
    let now = TimestampMs::now().as_millis();
    let params = FeatureParams {
        bbox: bbox.clone(),
        class: class.clone(),
        status: status.clone(),
        changed_since: changed_since.clone(),
        limit: Some(MAX_FEATURE_PAGE),
        ..FeatureParams::default()
    };
    let mut query = feature_query(&params, features::change::week_start_ms(now))
        .map_err(|reason| anyhow::anyhow!("--{reason}"))?;
    let mut sink: Box<dyn Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let geojson = format == "geojson";
    if geojson {
        write!(sink, "{{\"type\":\"FeatureCollection\",\"features\":[")?;
    } else {
        writeln!(sink, "{CSV_HEADER}")?;
    }
    let written = crate::with_store(settings, async |store| {
        let mut written = 0usize;
        loop {
            let page = store.db.features_page(&query).await?;
            for row in &page {
                if geojson {
                    let separator = if written == 0 { "" } else { "," };
                    write!(sink, "{separator}\n{}", feature_geojson(row, now))?;
                } else {
                    writeln!(sink, "{}", feature_csv(row, now))?;
                }
                written += 1;
            }
            match page.last() {
                Some(last) if page.len() == query.limit as usize => {
                    query.after_id = Some(last.id.clone());
                }
                _ => return Ok(written),
            }
        }
    })?;
    if geojson {
        writeln!(sink, "\n]}}")?;
    }
    sink.flush()?;
    eprintln!("{written} map features written");
    Ok(())
}
