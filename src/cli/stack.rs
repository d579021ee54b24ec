//! The Torq stack as this binary ships it: its spec (`compose/torq.yaml`),
//! loaded when no spec file is given or found, and the Dockerfile of the
//! self image its services run (`images/node/Dockerfile`). The generic
//! loader and engine know nothing of the stack; the CLI hands these in.

use crate::compose::BuiltinSpec;

/// The Torq stack's spec.
pub(crate) const SPEC: BuiltinSpec = BuiltinSpec {
    name: "compose/torq.yaml (embedded)",
    text: include_str!("../../compose/torq.yaml"),
};

/// The Dockerfile of the self image (`FROM scratch` plus torq's executable).
pub(crate) const SELF_IMAGE_DOCKERFILE: &str = include_str!("../../images/node/Dockerfile");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_image_dockerfile_copies_the_executable() {
        assert!(SELF_IMAGE_DOCKERFILE.contains("FROM scratch"));
        // The engine puts the executable into the build context as `torq`.
        assert!(SELF_IMAGE_DOCKERFILE.contains("COPY torq "));
    }
}
