//! A filter expression checked by libpcap when the command line is parsed,
//! so an invalid one stops the program (exit status 2, libpcap's own error
//! text) before anything is attached or read.

use std::fmt;

use crate::replay::LinkType;

use super::{live::unsupported_live_primitive, program::compile};

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter expression {expression:?}: {message}")]
    Invalid { expression: String, message: String },
    #[error(
        "filter expression {expression:?} cannot be applied to {link:?} packets: {message}; \
         replay captures of that link type without -f, or use an expression valid for it"
    )]
    LinkType { expression: String, link: LinkType, message: String },
    #[error(
        "filter expression {expression:?} uses `{primitive}`, which live capture cannot evaluate: the kernel \
         keeps per-flow counters, and a flow key has only VLANs, IP protocol, addresses and ports. \
         Use host/net/port/portrange/proto/vlan/src/dst with and/or/not live, or capture with \
         tcpdump -w and run `flowwatch replay -f`"
    )]
    NotLive { expression: String, primitive: String },
}

/// An expression libpcap compiled for Ethernet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterExpression(String);

impl FilterExpression {
    /// Checks `expression` with libpcap (as tcpdump would, for Ethernet).
    pub fn parse(expression: &str) -> Result<Self, FilterError> {
        compile(expression, LinkType::Ethernet)
            .map_err(|message| FilterError::Invalid { expression: expression.to_owned(), message })?;
        Ok(Self(expression.to_owned()))
    }

    /// Also checks that a flow key decides it (see [`super::FlowFilter`]).
    pub fn parse_live(expression: &str) -> Result<Self, FilterError> {
        let parsed = Self::parse(expression)?;
        parsed.check_live()?;
        Ok(parsed)
    }

    /// Errors naming the first primitive live capture cannot evaluate.
    pub fn check_live(&self) -> Result<(), FilterError> {
        match unsupported_live_primitive(&self.0) {
            Some(primitive) => Err(FilterError::NotLive { expression: self.0.clone(), primitive }),
            None => Ok(()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FilterExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expressions_parse() -> Result<(), FilterError> {
        for expression in ["tcp port 80", "host 10.0.0.1 and not udp", "vlan 10 and net 192.168.0.0/16", ""] {
            assert_eq!(FilterExpression::parse(expression)?.as_str(), expression);
        }
        Ok(())
    }

    #[test]
    fn invalid_expression_carries_libpcap_text() {
        let Err(err) = FilterExpression::parse("tcp prot 80") else { panic!("accepted") };
        assert_eq!(
            err.to_string(),
            "invalid filter expression \"tcp prot 80\": can't parse filter expression: syntax error"
        );
        let Err(err) = FilterExpression::parse("port 99999") else { panic!("accepted") };
        assert_eq!(err.to_string(), "invalid filter expression \"port 99999\": illegal port number 99999 > 65535");
    }

    #[test]
    fn live_refuses_primitives_the_key_lacks() -> Result<(), FilterError> {
        FilterExpression::parse_live("tcp and (src port 22 or dst net 10.0.0.0/8)")?;
        let Err(err) = FilterExpression::parse_live("tcp port 80 and greater 100") else { panic!("accepted") };
        assert!(matches!(&err, FilterError::NotLive { primitive, .. } if primitive == "greater"), "{err}");
        Ok(())
    }
}
