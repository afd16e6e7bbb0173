//! The default URL form `sqlite://./idv-data/idv.db` is relative to the working directory.
//! This file holds one test because it changes the process's working directory.

use idv_store::Store;
use idv_store_sqlite::SqliteStore;

#[tokio::test]
async fn a_relative_url_creates_its_folder_under_the_working_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::env::set_current_dir(dir.path()).expect("chdir");
    let store = SqliteStore::connect("sqlite://./idv-data/idv.db")
        .await
        .expect("connect");
    store.setting_get_or_insert("k", "v").await.expect("write");
    store.close().await;
    assert!(
        dir.path().join("idv-data").join("idv.db").is_file(),
        "./idv-data/idv.db exists"
    );
}
