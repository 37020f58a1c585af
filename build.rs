// Re-embed the migrations whenever a file is added to migrations/ (sqlx::migrate! alone only
// notices edits to files it already knows).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
