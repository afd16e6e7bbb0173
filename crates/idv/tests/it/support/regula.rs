//! Regula's own workflow files, for the compatibility tests: they are not part of the
//! repository, and are read from the folder named by `IDV_REGULA_DIR` (the test command sets it
//! when Regula's files sit beside the checkout). Without it, those tests say so and pass by.

#![allow(dead_code)]

use std::sync::LazyLock;

static DIR: LazyLock<Option<String>> = LazyLock::new(|| {
    std::env::var("IDV_REGULA_DIR")
        .ok()
        .filter(|d| !d.is_empty())
});

fn file(name: &str) -> &'static str {
    let dir = DIR
        .as_deref()
        .expect("IDV_REGULA_DIR is set (checked by regula_or_skip!)");
    Box::leak(format!("{dir}/{name}").into_boxed_str())
}

/// True when Regula's files are at hand; otherwise prints why the calling test does nothing.
pub fn available(test: &str) -> bool {
    if DIR.is_none() {
        eprintln!("{test}: skipped, IDV_REGULA_DIR does not name Regula's workflow folder");
    }
    DIR.is_some()
}

/// `general_kyc.yaml`: Regula's General KYC workflow.
pub fn general_kyc() -> &'static str {
    file("general_kyc.yaml")
}

/// `general_kyc_locale.yaml`: its texts.
pub fn general_kyc_locale() -> &'static str {
    file("general_kyc_locale.yaml")
}

/// Returns from the calling test when Regula's files are not at hand.
#[macro_export]
macro_rules! regula_or_skip {
    () => {
        if !$crate::support::regula::available(module_path!()) {
            return;
        }
    };
}
