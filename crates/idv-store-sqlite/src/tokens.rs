//! Bearer access and refresh tokens, stored by the hash of their secret.

use crate::Db;
use crate::convert::DbRow;
use crate::convert::{backend, col, unique_or_backend};
use idv_store::{AuthToken, StoreError, StoreResult, TokenKind};

// The functions this module shares with the other adapter, word for word.
idv_store_sql::tokens_fns!();
