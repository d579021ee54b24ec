//! Pulling one image from its registry (`pull`), reporting the engine's
//! status lines as they come, under the pull deadline.

use futures::StreamExt;

use super::build::{with_default_tag, PULL_DEADLINE};
use super::error::{with_deadline, ApiError};
use super::Engine;

/// Pulls `reference` (`:latest` when it names no tag), calling `on_status`
/// with each status line the engine sends (`Pulling fs layer`, …).
pub(crate) async fn pull(
    engine: &Engine,
    reference: &str,
    on_status: impl Fn(&str),
) -> Result<(), ApiError> {
    let options = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_image(&with_default_tag(reference))
        .build();
    let pulling = async {
        let mut stream = engine.docker().create_image(Some(options), None, None);
        while let Some(info) = stream.next().await {
            if let Some(status) = info?.status {
                on_status(&status);
            }
        }
        Ok(())
    };
    with_deadline(format!("pull {reference}"), PULL_DEADLINE, pulling).await
}
