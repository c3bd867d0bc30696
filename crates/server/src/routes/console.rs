//! The admin console pages (being written).

use crate::AppState;
use utoipa_axum::router::OpenApiRouter;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
