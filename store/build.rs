//! `sqlx::migrate!` embeds `migrations/` at compile time but does not tell Cargo to watch the
//! directory: without this, a migration added alone would not reach an incremental build.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
