//! GPU sharing: MIG profiles per GPU model (from NVIDIA's MIG user guide and the
//! mig-parted default configuration), the fit of a profile mix on one GPU, and the
//! time-slicing replica count.

/// A MIG profile: compute slices (of 7), memory slices (of 8), and how many fit one GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub compute: u32,
    pub memory: u32,
    pub max: u32,
}

const fn p(name: &'static str, compute: u32, memory: u32, max: u32) -> Profile {
    Profile {
        name,
        compute,
        memory,
        max,
    }
}

/// The MIG profiles of a GPU; `None` when the GPU has no MIG.
pub fn profiles(accelerator: &str) -> Option<&'static [Profile]> {
    const A100_40: &[Profile] = &[
        p("1g.5gb", 1, 1, 7),
        p("1g.10gb", 1, 2, 4),
        p("2g.10gb", 2, 2, 3),
        p("3g.20gb", 3, 4, 2),
        p("4g.20gb", 4, 4, 1),
        p("7g.40gb", 7, 8, 1),
    ];
    const G80: &[Profile] = &[
        p("1g.10gb", 1, 1, 7),
        p("1g.20gb", 1, 2, 4),
        p("2g.20gb", 2, 2, 3),
        p("3g.40gb", 3, 4, 2),
        p("4g.40gb", 4, 4, 1),
        p("7g.80gb", 7, 8, 1),
    ];
    const H200: &[Profile] = &[
        p("1g.18gb", 1, 1, 7),
        p("1g.35gb", 1, 2, 4),
        p("2g.35gb", 2, 2, 3),
        p("3g.71gb", 3, 4, 2),
        p("4g.71gb", 4, 4, 1),
        p("7g.141gb", 7, 8, 1),
    ];
    const B200: &[Profile] = &[
        p("1g.23gb", 1, 1, 7),
        p("1g.45gb", 1, 2, 4),
        p("2g.45gb", 2, 2, 3),
        p("3g.90gb", 3, 4, 2),
        p("4g.90gb", 4, 4, 1),
        p("7g.180gb", 7, 8, 1),
    ];
    match accelerator {
        "A100" => Some(A100_40),
        "A100-80GB" | "H100" => Some(G80),
        "H200" => Some(H200),
        "B200" => Some(B200),
        _ => None,
    }
}

/// Check a mix of profile → count per GPU; the error says what is wrong.
pub fn check_mix(accelerator: &str, mix: &[(String, u32)]) -> Result<(), String> {
    let Some(known) = profiles(accelerator) else {
        return Err(format!(
            "{accelerator} has no MIG; MIG needs an A100, H100, H200 or B200 (use sharing mode \"time_slicing\" instead)"
        ));
    };
    if mix.is_empty() || mix.iter().all(|(_, n)| *n == 0) {
        return Err("the MIG profile mix is empty".into());
    }
    let (mut compute, mut memory) = (0, 0);
    for (name, count) in mix {
        let Some(pr) = known.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = known.iter().map(|p| p.name).collect();
            return Err(format!(
                "{name} is not a MIG profile of the {accelerator}; its profiles are {}",
                names.join(", ")
            ));
        };
        if *count > pr.max {
            return Err(format!(
                "at most {} × {name} fit one {accelerator}, not {count}",
                pr.max
            ));
        }
        compute += pr.compute * count;
        memory += pr.memory * count;
    }
    if compute > 7 || memory > 8 {
        return Err(format!(
            "the mix does not fit one {accelerator}: it needs {compute} of 7 compute slices and {memory} of 8 memory slices"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(v: &[(&str, u32)]) -> Vec<(String, u32)> {
        v.iter().map(|(n, c)| (n.to_string(), *c)).collect()
    }

    #[test]
    fn documented_profiles_and_fits() {
        assert!(check_mix("A100-80GB", &mix(&[("1g.10gb", 7)])).is_ok());
        assert!(check_mix(
            "H100",
            &mix(&[("3g.40gb", 1), ("2g.20gb", 1), ("1g.10gb", 2)])
        )
        .is_ok());
        assert!(
            check_mix(
                "A100",
                &mix(&[("1g.5gb", 2), ("2g.10gb", 1), ("3g.20gb", 1)])
            )
            .is_ok(),
            "NVIDIA's all-balanced"
        );
        assert!(check_mix("A100", &mix(&[("4g.20gb", 1), ("3g.20gb", 1)])).is_ok());
        let e = check_mix("A100", &mix(&[("1g.10gb", 8)])).unwrap_err();
        assert!(e.contains("at most 4"), "{e}");
        let e = check_mix("A100-80GB", &mix(&[("3g.40gb", 2), ("2g.20gb", 1)])).unwrap_err();
        assert!(
            e.contains("does not fit") && e.contains("8 of 7 compute"),
            "{e}"
        );
        let e = check_mix("A100", &mix(&[("1g.10gb", 1)])).map(|_| ()).err();
        assert!(e.is_none());
        let e = check_mix("A100-80GB", &mix(&[("1g.5gb", 1)])).unwrap_err();
        assert!(e.contains("not a MIG profile of the A100-80GB"), "{e}");
        for gpu in ["L4", "T4", "A10G"] {
            assert!(check_mix(gpu, &mix(&[("1g.10gb", 1)]))
                .unwrap_err()
                .contains("has no MIG"));
        }
    }

    #[test]
    fn every_profile_is_in_nvidias_default_config() {
        let text = include_str!("../tests/data/nvidia/mig-parted_config-default.yaml");
        for acc in ["A100", "A100-80GB", "H100", "H200", "B200"] {
            for p in profiles(acc).unwrap() {
                assert!(
                    text.contains(&format!("\"{}\"", p.name)),
                    "{} ({acc})",
                    p.name
                );
            }
        }
    }
}
