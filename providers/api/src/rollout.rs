//! An endpoint's `rollout { … }` block, as every provider reads it.

use mlinfra_schema::Value;

use crate::Attributes;

/// How traffic moves to a new model or configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    /// `all_at_once`, `canary` or `linear`.
    pub strategy: String,
    /// Percent on the new configuration during a canary (1–99; default 10).
    pub canary_percent: i64,
    /// Percent moved per linear step (1–100; default 25).
    pub step_percent: i64,
    /// Seconds to watch each step before the next (`bake_minutes`, default 10).
    pub bake_seconds: u64,
}

impl Rollout {
    /// The `rollout` of `attrs`, with the schema's defaults where it says nothing.
    pub fn of(attrs: &Attributes) -> Rollout {
        let m = attrs.get("rollout").and_then(Value::as_map);
        let get = |k: &str| m.and_then(|m| m.get(k));
        let num = |k: &str, default: f64| get(k).and_then(Value::as_f64).unwrap_or(default);
        Rollout {
            strategy: get("strategy")
                .and_then(Value::as_str)
                .unwrap_or("all_at_once")
                .to_string(),
            canary_percent: (num("canary_percent", 10.0) as i64).clamp(1, 99),
            step_percent: (num("linear_step_percent", 25.0) as i64).clamp(1, 100),
            bake_seconds: (num("bake_minutes", 10.0).max(0.0) * 60.0) as u64,
        }
    }

    /// The share of traffic the new configuration takes first.
    pub fn first_percent(&self) -> i64 {
        match self.strategy.as_str() {
            "canary" => self.canary_percent,
            "linear" => self.step_percent,
            _ => 100,
        }
    }

    /// The share after `at`, one step on.
    pub fn next_percent(&self, at: i64) -> i64 {
        if self.strategy == "linear" {
            (at + self.step_percent).min(100)
        } else {
            100
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_steps() {
        let r = Rollout::of(&Attributes::new());
        assert_eq!(r.strategy, "all_at_once");
        assert_eq!((r.first_percent(), r.bake_seconds), (100, 600));
        let mut m = std::collections::BTreeMap::new();
        m.insert("strategy".to_string(), Value::from("linear"));
        m.insert("linear_step_percent".to_string(), Value::from(40.0));
        m.insert("bake_minutes".to_string(), Value::from(0.0));
        let a: Attributes = [("rollout".to_string(), Value::Map(m))]
            .into_iter()
            .collect();
        let r = Rollout::of(&a);
        assert_eq!(
            (r.first_percent(), r.next_percent(40), r.next_percent(80)),
            (40, 80, 100)
        );
        assert_eq!(r.bake_seconds, 0);
    }
}
