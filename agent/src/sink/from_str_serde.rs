//! Settings types that parse from a string on the command line parse the
//! same way from the config file, so both accept exactly the same spellings
//! and a bad value in the file is reported with its line.

/// Implements `Deserialize` through the type's `FromStr`.
macro_rules! deserialize_from_str {
    ($type:ty) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
