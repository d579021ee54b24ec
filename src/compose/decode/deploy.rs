//! Decoding `deploy:` (through [`Deploy`]'s table) and the deploy values
//! that need more than a type: device requests (shared with `gpus`) and
//! placement preferences. Compose copies `scale` into `deploy.replicas`;
//! that happens in [`crate::compose::normalize`].

use indexmap::IndexMap;

use super::object::{decode_map, decode_object};
use super::Decoder;
use crate::compose::error::SpecError;
use crate::compose::model::{Deploy, DeviceRequest};
use crate::compose::yaml::{Node, Value};

impl Decoder<'_> {
    /// `deploy:`; `null` means none.
    pub(crate) fn deploy(&mut self, node: &Node, path: &str) -> Result<Option<Deploy>, SpecError> {
        if self.map(node, path)?.is_none() {
            return Ok(None);
        }
        decode_object(self, node, path).map(Some)
    }

    /// `devices` of a resource reservation: a list of device requests.
    pub(crate) fn device_requests(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<DeviceRequest>, SpecError> {
        if !matches!(node.value, Value::Seq(_)) {
            return Err(self.expected(node, path, "a list of device requests"));
        }
        self.list(node, path, Self::device_request)
    }

    /// One device request: without `count` and `device_ids` it asks for all
    /// devices (count -1); it cannot have both.
    pub(crate) fn device_request(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<DeviceRequest, SpecError> {
        let mut request = DeviceRequest::default();
        let Some(map) = self.map(node, path)? else {
            return Ok(request);
        };
        decode_map(self, map, path, &mut request)?;
        match (map.contains_key("count"), map.contains_key("device_ids")) {
            (false, false) => request.count = Some(-1),
            (true, true) => {
                return Err(self.error(
                    node.pos,
                    path,
                    "`count` and `device_ids` cannot both be set",
                ))
            }
            _ => {}
        }
        Ok(request)
    }

    /// A device count: a number or `all` (-1); zero means unset.
    pub(crate) fn device_count(&self, node: &Node, path: &str) -> Result<Option<i64>, SpecError> {
        let count = match &node.value {
            Value::Int(i) => *i,
            Value::Str(s) if s.eq_ignore_ascii_case("all") => -1,
            Value::Str(s) => s.trim().parse::<i64>().map_err(|_| {
                self.error(
                    node.pos,
                    path,
                    format!("invalid count `{s}` (a number or `all`)"),
                )
            })?,
            _ => return Err(self.expected(node, path, "a number or `all`")),
        };
        Ok(Some(count).filter(|c| *c != 0))
    }

    /// `placement.preferences`: a list of `{spread: …}` mappings.
    pub(crate) fn preferences(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Result<Vec<IndexMap<String, String>>, SpecError> {
        if !matches!(node.value, Value::Seq(_)) {
            return Err(self.expected(node, path, "a list of preferences"));
        }
        self.list(node, path, |d, item, at| d.string_map(item, at))
    }
}
