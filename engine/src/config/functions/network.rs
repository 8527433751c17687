//! IP network functions: cidrhost, cidrnetmask, cidrsubnet, cidrsubnets, for IPv4 and
//! IPv6 prefixes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mlinfra_schema::Value;

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("cidrhost", "cidrhost(prefix, hostnum)", |a, _| {
        arity(a, 2)?;
        let net = Net::parse(&string(a, 0)?)?;
        let n = whole(num(a, 1)?, "hostnum")?;
        let size = net.size();
        // Negative numbers count back from the end of the range.
        let offset = if n < 0 { size as i128 + n } else { n };
        if offset < 0 || offset as u128 >= size {
            return Err(format!(
                "host number {n} does not fit in {}, which has {size} addresses",
                net.text()
            ));
        }
        Ok(Value::String(net.address(net.start + offset as u128)))
    }),
    ("cidrnetmask", "cidrnetmask(prefix)", |a, _| {
        arity(a, 1)?;
        let net = Net::parse(&string(a, 0)?)?;
        if net.bits != 32 {
            return Err("cidrnetmask takes an IPv4 prefix; IPv6 has no netmask notation".into());
        }
        let mask = if net.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - net.prefix)
        };
        Ok(Value::String(Ipv4Addr::from(mask).to_string()))
    }),
    (
        "cidrsubnet",
        "cidrsubnet(prefix, newbits, netnum)",
        |a, _| {
            arity(a, 3)?;
            let net = Net::parse(&string(a, 0)?)?;
            let newbits = whole(num(a, 1)?, "newbits")?;
            let netnum = whole(num(a, 2)?, "netnum")?;
            let sub = net.subnet(newbits)?;
            if netnum < 0 || (newbits < 127 && netnum >= 1i128 << newbits) {
                return Err(format!(
                    "network number {netnum} does not fit in {newbits} new bits"
                ));
            }
            Ok(Value::String(
                Net {
                    start: net.start | ((netnum as u128) << (net.bits - sub)),
                    prefix: sub,
                    bits: net.bits,
                }
                .text(),
            ))
        },
    ),
    (
        "cidrsubnets",
        "cidrsubnets(prefix, newbits, …)",
        |a, _| {
            if a.len() < 2 {
                return Err("expected a prefix and at least one number of new bits".into());
            }
            let net = Net::parse(&string(a, 0)?)?;
            let mut out = Vec::new();
            // Each subnet starts after the previous one ends, aligned to its own size, as
            // Terraform allocates them.
            let mut next = net.start;
            for i in 1..a.len() {
                let newbits = whole(num(a, i)?, "newbits")?;
                let prefix = net.subnet(newbits)?;
                let size = 1u128 << (net.bits - prefix);
                let start = next.div_ceil(size) * size;
                if start + size > net.start + net.size() {
                    return Err(format!(
                        "not enough room in {} for a /{prefix} after the subnets before it",
                        net.text()
                    ));
                }
                out.push(Value::String(
                    Net {
                        start,
                        prefix,
                        bits: net.bits,
                    }
                    .text(),
                ));
                next = start + size;
            }
            Ok(Value::List(out))
        },
    ),
];

fn whole(n: f64, what: &str) -> Result<i128, String> {
    if n.fract() != 0.0 || n.abs() > 1e38 {
        return Err(format!("{what} must be a whole number"));
    }
    Ok(n as i128)
}

/// A prefix: its first address (the host bits cleared), prefix length, and 32 or 128.
struct Net {
    start: u128,
    prefix: u32,
    bits: u32,
}

impl Net {
    fn parse(text: &str) -> Result<Net, String> {
        let bad = || format!("\"{text}\" is not a CIDR prefix like 10.0.0.0/16 or fd00::/56");
        let (addr, len) = text.split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u32 = len.parse().map_err(|_| bad())?;
        let (value, bits) = match ip {
            IpAddr::V4(v) => (u32::from(v) as u128, 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        };
        if prefix > bits {
            return Err(bad());
        }
        let host = bits - prefix;
        let start = if host >= 128 {
            0
        } else {
            (value >> host) << host
        };
        Ok(Net {
            start,
            prefix,
            bits,
        })
    }

    fn size(&self) -> u128 {
        let host = self.bits - self.prefix;
        if host >= 128 {
            u128::MAX
        } else {
            1u128 << host
        }
    }

    /// The prefix length of a subnet `newbits` longer.
    fn subnet(&self, newbits: i128) -> Result<u32, String> {
        if newbits < 0 || self.prefix as i128 + newbits > self.bits as i128 {
            return Err(format!(
                "{newbits} new bits do not fit in a /{} (an address has {} bits)",
                self.prefix, self.bits
            ));
        }
        Ok(self.prefix + newbits as u32)
    }

    fn address(&self, v: u128) -> String {
        if self.bits == 32 {
            Ipv4Addr::from(v as u32).to_string()
        } else {
            Ipv6Addr::from(v).to_string()
        }
    }

    fn text(&self) -> String {
        format!("{}/{}", self.address(self.start), self.prefix)
    }
}
