//! The tile API, read straight from the live MBTiles file:
//!
//! - `GET /tiles/{z}/{x}/{y}.mvt` — Mapbox Vector Tile 2.1, gzip (`Content-Encoding: gzip`,
//!   or inflated for clients that do not accept gzip), a strong `ETag` (the tile's MD5),
//!   `304` on a matching `If-None-Match`, `204` for an empty tile, `Cache-Control`.
//! - `GET /tiles.json` — TileJSON 3.0.0.
//! - `GET /style.json` — a MapLibre style over the tiles.
//!
//! A malformed address (`z` > 22, `x`/`y` out of range, negative or not a number, another
//! extension) is a `400` problem+json.

use std::io::Read;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType, EntityTag};
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::read::GzDecoder;
use model::Problem;

use crate::coord::{LonLatBox, TileCoord};
use crate::layers::day_number;
use crate::mbtiles::MbTiles;
use crate::tileset::{basemap_tilejson, style, tilejson};

pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";
/// Live tiles change within seconds of new frames; clients revalidate with the ETag.
const TILE_CACHE_CONTROL: &str = "public, max-age=30, must-revalidate";

/// The base map's tileset, when one was built (`waymark tiles basemap`).
#[derive(Debug, Clone)]
pub struct Basemap(pub MbTiles);

/// The OpenAPI document of these routes; `waymark serve` merges it into the one it serves.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(
    get_tile,
    get_basemap_tile,
    get_tilejson,
    get_basemap_tilejson,
    get_style
))]
pub struct ApiDoc;

/// Wraps a route that serves metered use of `kind` (the composition root passes
/// `metering::metered`; [`open_route`] serves it to anyone).
pub type MeterRoute = fn(actix_web::Route, model::UsageKind) -> actix_web::Route;

/// The route wrapper that meters nothing.
pub fn open_route(route: actix_web::Route, _kind: model::UsageKind) -> actix_web::Route {
    route
}

/// Registers the tile routes on an app, open to anyone; `basemap` adds
/// `/basemap/{z}/{x}/{y}.mvt` and the roads to the style.
pub fn configure(tiles: MbTiles, basemap: Option<MbTiles>) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_metered(tiles, basemap, open_route)
}

/// [`configure`], with the live tiles' route wrapped by `meter` (the base map's roads and
/// the TileJSON and style documents stay open).
pub fn configure_metered(
    tiles: MbTiles,
    basemap: Option<MbTiles>,
    meter: MeterRoute,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(tiles))
            .app_data(web::Data::new(basemap.map(Basemap)))
            .route(
                "/tiles/{z}/{x}/{y}",
                meter(web::get().to(get_tile), model::UsageKind::Tiles),
            )
            .route("/basemap/{z}/{x}/{y}", web::get().to(get_basemap_tile))
            .route("/tiles.json", web::get().to(get_tilejson))
            .route("/basemap.json", web::get().to(get_basemap_tilejson))
            .route("/style.json", web::get().to(get_style));
    }
}

/// A live tile: Mapbox Vector Tile 2.1 with the coverage, sequences, frames and features layers.
#[utoipa::path(get, path = "/tiles/{z}/{x}/{y}.mvt", tag = "tiles",
    params(("z" = u8, Path, description = "Zoom, 0 to 22 (layers stop at 14)"),
           ("x" = u32, Path, description = "Column"), ("y" = u32, Path, description = "Row (XYZ scheme)"),
           ("If-None-Match" = Option<String>, Header, description = "The tile's ETag from an earlier answer")),
    responses((status = 200, description = "The tile, gzip-encoded when accepted, with a strong ETag (its MD5)", content_type = "application/vnd.mapbox-vector-tile"),
              (status = 204, description = "Nothing mapped in this tile"),
              (status = 304, description = "The tile has not changed"),
              (status = 400, description = "A malformed address (problem+json)")))]
async fn get_tile(
    request: HttpRequest,
    tiles: web::Data<MbTiles>,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    serve_tile(&request, &tiles, path.into_inner()).await
}

/// A tile of the OpenStreetMap road base map (`roads` layer), when the server has one.
#[utoipa::path(get, path = "/basemap/{z}/{x}/{y}.mvt", tag = "tiles",
    params(("z" = u8, Path, description = "Zoom"), ("x" = u32, Path, description = "Column"),
           ("y" = u32, Path, description = "Row (XYZ scheme)")),
    responses((status = 200, description = "The tile", content_type = "application/vnd.mapbox-vector-tile"),
              (status = 204, description = "No road in this tile"),
              (status = 400, description = "A malformed address (problem+json)"),
              (status = 404, description = "This server has no base map (problem+json)")))]
async fn get_basemap_tile(
    request: HttpRequest,
    basemap: web::Data<Option<Basemap>>,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    match basemap.as_ref() {
        Some(Basemap(tiles)) => serve_tile(&request, tiles, path.into_inner()).await,
        None => problem(
            404,
            "no-basemap",
            "No base map",
            "this server has no base map; build one with `waymark tiles basemap --pbf FILE`".into(),
        ),
    }
}

async fn serve_tile(
    request: &HttpRequest,
    tiles: &MbTiles,
    path: (String, String, String),
) -> HttpResponse {
    let (z, x, y_file) = path;
    let Some(y) = y_file.strip_suffix(".mvt").or(y_file.strip_suffix(".pbf")) else {
        return problem(
            400,
            "bad-tile-address",
            "Bad tile address",
            format!(
                "`{}` is not a tile: tiles are served as /tiles/{{z}}/{{x}}/{{y}}.mvt",
                truncate(&y_file)
            ),
        );
    };
    let tile = match TileCoord::parse(&z, &x, y) {
        Ok(tile) => tile,
        Err(err) => return problem(400, "bad-tile-address", "Bad tile address", err.to_string()),
    };
    let stored = match tiles.cached_tile(tile).await {
        Ok(stored) => stored,
        Err(err) => {
            tracing::error!(error = %err, %tile, "reading a tile failed");
            return problem(
                500,
                "tiles-unavailable",
                "Tiles unavailable",
                err.to_string(),
            );
        }
    };
    let Some(stored) = stored else {
        return HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, TILE_CACHE_CONTROL))
            .finish();
    };
    let etag = EntityTag::new_strong(stored.hash.clone());
    let revalidated = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| if_none_match(value, &etag));
    if revalidated {
        return HttpResponse::NotModified()
            .insert_header(header::ETag(etag))
            .insert_header((header::CACHE_CONTROL, TILE_CACHE_CONTROL))
            .finish();
    }
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, MVT_CONTENT_TYPE))
        .insert_header(header::ETag(etag))
        .insert_header((header::CACHE_CONTROL, TILE_CACHE_CONTROL))
        .insert_header((header::VARY, "Accept-Encoding"));
    if accepts_gzip(request) {
        return response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(stored.data.clone());
    }
    let mut inflated = Vec::with_capacity(stored.data.len() * 3);
    match GzDecoder::new(stored.data.as_slice()).read_to_end(&mut inflated) {
        // Identity: tell actix's compression middleware (if any) to leave it alone.
        Ok(_) => response
            .insert_header((header::CONTENT_ENCODING, "identity"))
            .body(inflated),
        Err(err) => problem(
            500,
            "tiles-unavailable",
            "Tiles unavailable",
            format!("stored tile {tile} is not valid gzip: {err}"),
        ),
    }
}

/// TileJSON 3.0.0 of the live tiles: URL template, zooms, bounds and the vector layers.
#[utoipa::path(get, path = "/tiles.json", tag = "tiles",
    responses((status = 200, description = "TileJSON 3.0.0")))]
async fn get_tilejson(request: HttpRequest, tiles: web::Data<MbTiles>) -> HttpResponse {
    let bounds = stored_bounds(&tiles).await;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(tilejson(&base_url(&request), bounds))
}

/// TileJSON 3.0.0 of the road base map.
#[utoipa::path(get, path = "/basemap.json", tag = "tiles",
    responses((status = 200, description = "TileJSON 3.0.0"),
              (status = 404, description = "This server has no base map (problem+json)")))]
async fn get_basemap_tilejson(
    request: HttpRequest,
    basemap: web::Data<Option<Basemap>>,
) -> HttpResponse {
    let Some(Basemap(tiles)) = basemap.as_ref() else {
        return problem(
            404,
            "no-basemap",
            "No base map",
            "this server has no base map; build one with `waymark tiles basemap --pbf FILE`".into(),
        );
    };
    let bounds = stored_bounds(tiles).await;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(basemap_tilejson(&base_url(&request), bounds))
}

/// A MapLibre style: coverage coloured by freshness, sequences, frames, map features, and the roads
/// when there is a base map.
#[utoipa::path(get, path = "/style.json", tag = "tiles",
    responses((status = 200, description = "MapLibre style specification v8")))]
async fn get_style(
    request: HttpRequest,
    tiles: web::Data<MbTiles>,
    basemap: web::Data<Option<Basemap>>,
) -> HttpResponse {
    let bounds = match stored_bounds(&tiles).await {
        Some(bounds) => Some(bounds),
        None => match basemap.as_ref() {
            Some(Basemap(roads)) => stored_bounds(roads).await,
            None => None,
        },
    };
    let today = day_number(model::TimestampMs::now().as_millis());
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(style(&base_url(&request), today, bounds, basemap.is_some()))
}

/// The bounds the builder recorded, if any tile was built yet.
async fn stored_bounds(tiles: &MbTiles) -> Option<LonLatBox> {
    let metadata = tiles.metadata().await.ok()?;
    let bounds = &metadata.iter().find(|(k, _)| k == "bounds")?.1;
    let values: Vec<f64> = bounds
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let [west, south, east, north] = values[..] else {
        return None;
    };
    tiles.tile_count().await.ok().filter(|n| *n > 0)?;
    Some(LonLatBox {
        west,
        south,
        east,
        north,
    })
}

fn base_url(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn accepts_gzip(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.trim().split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether an `If-None-Match` header value matches the tile's tag (`*` matches any).
fn if_none_match(value: &str, etag: &EntityTag) -> bool {
    value.trim() == "*"
        || value
            .split(',')
            .filter_map(|t| t.trim().parse::<EntityTag>().ok())
            .any(|t| t.strong_eq(etag))
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

fn problem(status: u16, slug: &str, title: &str, detail: String) -> HttpResponse {
    let problem = Problem::new(status, slug, title, detail);
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .insert_header(ContentType(
            "application/problem+json"
                .parse()
                .expect("a valid media type"),
        ))
        .json(problem)
}
