//! The resource dependency graph, and its DOT and Mermaid renderings.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::config::eval::Evaluated;

/// Dependency graph of resource instances and provider configurations.
/// An edge `a → b` means `a` depends on `b`.
pub struct ResourceGraph {
    pub graph: DiGraph<String, ()>,
    index: BTreeMap<String, NodeIndex>,
}

impl ResourceGraph {
    pub fn build(config: &Evaluated) -> ResourceGraph {
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for p in &config.providers {
            let name = format!("provider.{}", p.key);
            index.insert(name.clone(), graph.add_node(name));
        }
        for r in &config.resources {
            let name = r.address.to_string();
            index.insert(name.clone(), graph.add_node(name));
        }
        for r in &config.resources {
            let from = index[&r.address.to_string()];
            for d in &r.depends_on {
                if let Some(to) = index.get(d) {
                    graph.update_edge(from, *to, ());
                }
            }
            if let Some(p) = &r.provider {
                if let Some(to) = index.get(&format!("provider.{p}")) {
                    graph.update_edge(from, *to, ());
                }
            }
        }
        ResourceGraph { graph, index }
    }

    /// Node names in dependency order (dependencies first).
    pub fn order(&self) -> Vec<String> {
        match petgraph::algo::toposort(&self.graph, None) {
            Ok(order) => order
                .into_iter()
                .rev()
                .map(|n| self.graph[n].clone())
                .collect(),
            Err(_) => self.index.keys().cloned().collect(),
        }
    }

    fn edges(&self) -> BTreeSet<(String, String)> {
        self.graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (self.graph[a].clone(), self.graph[b].clone()))
            .collect()
    }

    /// Group nodes by module path for subgraphs.
    fn modules(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in self.index.keys() {
            let module = module_of(name);
            out.entry(module).or_default().push(name.clone());
        }
        out
    }

    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph mlinfra {\n  rankdir = \"RL\";\n  node [shape = box, fontname = \"sans-serif\"];\n");
        for (module, nodes) in self.modules() {
            let indent = if module.is_empty() { "  " } else { "    " };
            if !module.is_empty() {
                s.push_str(&format!(
                    "  subgraph \"cluster_{module}\" {{\n    label = \"{module}\";\n"
                ));
            }
            for n in nodes {
                let shape = if n.contains("provider.") {
                    ", shape = diamond"
                } else {
                    ""
                };
                s.push_str(&format!(
                    "{indent}\"{}\" [label = \"{}\"{shape}];\n",
                    esc(&n),
                    esc(&n)
                ));
            }
            if !module.is_empty() {
                s.push_str("  }\n");
            }
        }
        for (a, b) in self.edges() {
            s.push_str(&format!("  \"{}\" -> \"{}\";\n", esc(&a), esc(&b)));
        }
        s.push_str("}\n");
        s
    }

    pub fn to_mermaid(&self) -> String {
        let ids: BTreeMap<&String, String> = self
            .index
            .keys()
            .enumerate()
            .map(|(i, n)| (n, format!("n{i}")))
            .collect();
        let mut s = String::from("flowchart RL\n");
        for (module, nodes) in self.modules() {
            if !module.is_empty() {
                s.push_str(&format!(
                    "  subgraph {}[\"{}\"]\n",
                    mermaid_id(&module),
                    module.replace('"', "#quot;")
                ));
            }
            for n in nodes {
                let label = n.replace('"', "#quot;");
                if n.contains("provider.") {
                    s.push_str(&format!("  {}{{{{\"{label}\"}}}}\n", ids[&n]));
                } else {
                    s.push_str(&format!("  {}[\"{label}\"]\n", ids[&n]));
                }
            }
            if !module.is_empty() {
                s.push_str("  end\n");
            }
        }
        for (a, b) in self.edges() {
            s.push_str(&format!("  {} --> {}\n", ids[&a], ids[&b]));
        }
        s
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn mermaid_id(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The module path part of a node name (`module.a["x"]` of `module.a["x"].bucket.b`).
fn module_of(name: &str) -> String {
    match crate::address::Address::parse(name) {
        Ok(a) => crate::address::module_path_string(&a.module),
        Err(_) => {
            // provider.module.x.CLOUD style keys
            let rest = name.strip_prefix("provider.").unwrap_or(name);
            let cut = mlinfra_schema::Cloud::ALL
                .iter()
                .find_map(|c| rest.rfind(&format!(".{c}")));
            match cut {
                Some(i) if rest.starts_with("module.") => rest[..i].to_string(),
                _ => String::new(),
            }
        }
    }
}
