//! Kubernetes versions, as every managed Kubernetes service upgrades them: one minor
//! version at a time, never down.

use mlinfra_schema::Value;

use crate::PlanRequest;

/// The `kubernetes_version` an update moves from and to, when both are known.
pub fn change(req: &PlanRequest) -> Option<(&str, &str)> {
    let from = req
        .prior
        .as_ref()?
        .get("kubernetes_version")
        .and_then(Value::as_str)?;
    let to = req
        .proposed
        .get("kubernetes_version")
        .and_then(Value::as_str)?;
    Some((from, to))
}

/// `1.31` (or `1.31.2`, `1.31-gke.1`) → (1, 31).
pub fn minor(v: &str) -> Option<(u64, u64)> {
    let mut parts = v.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Whether a control plane can go from one version to another in one upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The same minor, or the next one (or a version that is not `MAJOR.MINOR`: the cloud judges).
    Allowed,
    Downgrade,
    /// More than one minor ahead: `next` is the one to apply first.
    Skips {
        next: String,
    },
}

pub fn step(from: &str, to: &str) -> Step {
    let (Some(a), Some(b)) = (minor(from), minor(to)) else {
        return Step::Allowed;
    };
    if b < a {
        Step::Downgrade
    } else if b.0 != a.0 || b.1 > a.1 + 1 {
        Step::Skips {
            next: format!("{}.{}", a.0, a.1 + 1),
        }
    } else {
        Step::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minor_at_a_time_and_never_down() {
        assert_eq!(minor("1.31"), Some((1, 31)));
        assert_eq!(minor("1.33.5-gke.1201000"), Some((1, 33)));
        assert_eq!(step("1.31", "1.31"), Step::Allowed);
        assert_eq!(step("1.31", "1.32"), Step::Allowed);
        assert_eq!(step("1.32", "1.31"), Step::Downgrade);
        assert_eq!(
            step("1.31", "1.33"),
            Step::Skips {
                next: "1.32".into()
            }
        );
        assert_eq!(step("latest", "1.33"), Step::Allowed);
    }
}
