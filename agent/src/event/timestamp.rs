use serde::{Serialize, Serializer};

use crate::clock::format_epoch_ns;

/// A point in time as Unix-epoch nanoseconds; serialized as RFC 3339 (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i128);

impl Timestamp {
    pub fn epoch_ns(self) -> i128 {
        self.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_epoch_ns(self.0))
    }
}
