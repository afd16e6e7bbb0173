//! The default URL form `sqlite://./idv-data/idv.db` is relative to the working directory (the
//! package folder under `cargo test`; the process's directory is left alone, other tests share
//! the process).

use idv_store::prelude::*;
use idv_store_sqlite::SqliteStore;

#[tokio::test]
async fn a_relative_url_creates_its_folder_under_the_working_directory() {
    let dir = tempfile::Builder::new()
        .prefix(".relative-url-")
        .tempdir_in(".")
        .expect("temp dir under the working directory");
    let name = dir
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("utf-8 name")
        .to_owned();
    let store = SqliteStore::connect(&format!("sqlite://./{name}/idv-data/idv.db"))
        .await
        .expect("connect");
    store.setting_get_or_insert("k", "v").await.expect("write");
    store.close().await;
    assert!(
        std::path::Path::new(".")
            .join(&name)
            .join("idv-data")
            .join("idv.db")
            .is_file(),
        "./{name}/idv-data/idv.db exists"
    );
}
