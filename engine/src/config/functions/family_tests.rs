//! Table tests of the function families, from the examples in Terraform's function
//! documentation (developer.hashicorp.com/terraform/language/functions/NAME).

use mlinfra_schema::Value;
use serde_json::json;

use super::{call, CallContext, CallError};

fn v(j: serde_json::Value) -> Value {
    Value::from_json(&j)
}

fn run(name: &str, args: serde_json::Value) -> Result<Value, String> {
    let args: Vec<Value> = args
        .as_array()
        .unwrap()
        .iter()
        .map(Value::from_json)
        .collect();
    call(name, &args, &CallContext { module_dir: None }).map_err(|e| match e {
        CallError::Unknown => format!("{name} is unknown"),
        CallError::Invalid { message, .. } => message,
    })
}

/// An expression evaluated with no scope; it must not fail.
fn eval_str(text: &str) -> Value {
    let e: crate::config::syntax::Expression = text.parse().unwrap();
    let scope = crate::config::expr::Scope::default();
    let mut ev = crate::config::expr::Evaluator::new(&scope, 0);
    let v = ev.eval(&e);
    assert!(ev.diags.is_empty(), "{text}: {:?}", ev.diags);
    v
}

/// Each row: function, arguments, the documented result.
fn table(rows: &[(&str, serde_json::Value, serde_json::Value)]) {
    for (name, args, want) in rows {
        let got = run(name, args.clone()).unwrap_or_else(|e| panic!("{name}{args}: {e}"));
        assert_eq!(got, v(want.clone()), "{name}{args}");
    }
}

/// Each row: function, arguments, a part of the error.
fn errors(rows: &[(&str, serde_json::Value, &str)]) {
    for (name, args, says) in rows {
        let e = run(name, args.clone()).expect_err(&format!("{name}{args} is an error"));
        assert!(e.contains(says), "{name}{args}: {e}");
    }
}

#[test]
fn string_functions() {
    table(&[
        ("chomp", json!(["hello\n"]), json!("hello")),
        ("chomp", json!(["hello\r\n"]), json!("hello")),
        ("chomp", json!(["hello\n\n"]), json!("hello")),
        (
            "indent",
            json!([2, "[\n  foo,\n  bar,\n]\n"]),
            json!("[\n    foo,\n    bar,\n  ]\n  "),
        ),
        ("strrev", json!(["hello"]), json!("olleh")),
        ("strrev", json!(["a ☃"]), json!("☃ a")),
        // A combining accent stays on its letter; strings are NFC, as cty's are.
        ("strrev", json!(["ae\u{301}b"]), json!("b\u{e9}a")),
        (
            "strrev",
            json!(["x\u{1f1fa}\u{1f1f8}y"]),
            json!("y\u{1f1fa}\u{1f1f8}x"),
        ),
        // length and substr count grapheme clusters.
        ("length", json!(["hello"]), json!(5)),
        ("length", json!(["\u{1f47e}\u{1f579}\u{fe0f}"]), json!(2)),
        ("length", json!(["e\u{301}"]), json!(1)),
        ("substr", json!(["hello world", 1, 4]), json!("ello")),
        (
            "substr",
            json!(["\u{1f914}\u{1f937}", 0, 1]),
            json!("\u{1f914}"),
        ),
        ("substr", json!(["hello world", -5, -1]), json!("world")),
        ("substr", json!(["hello world", 6, 10]), json!("world")),
        ("substr", json!(["hello", -10, 2]), json!("he")),
        // A search in slashes is a regular expression.
        (
            "replace",
            json!(["1 + 2 + 3", "+", "-"]),
            json!("1 - 2 - 3"),
        ),
        (
            "replace",
            json!(["hello world", "/w.*d/", "everybody"]),
            json!("hello everybody"),
        ),
        (
            "replace",
            json!(["2024-05-06", "/(\\d+)-(\\d+)-(\\d+)/", "$3.$2.$1"]),
            json!("06.05.2024"),
        ),
        ("replace", json!(["a/b", "/", "-"]), json!("a-b")),
        ("title", json!(["hello world"]), json!("Hello World")),
        ("trimprefix", json!(["helloworld", "hello"]), json!("world")),
        (
            "trimprefix",
            json!(["helloworld", "cat"]),
            json!("helloworld"),
        ),
        ("trimsuffix", json!(["helloworld", "world"]), json!("hello")),
        ("strcontains", json!(["hello world", "wor"]), json!(true)),
        ("strcontains", json!(["hello world", "wod"]), json!(false)),
        (
            "regex",
            json!(["[a-z]+", "53453453.345345aaabbbccc23454"]),
            json!("aaabbbccc"),
        ),
        (
            "regex",
            json!(["(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)", "2019-02-01"]),
            json!(["2019", "02", "01"]),
        ),
        (
            "regex",
            json!([
                "^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?",
                "https://terraform.io/docs/"
            ]),
            json!({"authority": "terraform.io", "scheme": "https"}),
        ),
        (
            "regexall",
            json!(["[a-z]+", "1234abcd5678efgh9"]),
            json!(["abcd", "efgh"]),
        ),
        ("regexall", json!(["[a-z]+", "123456789"]), json!([])),
        (
            "formatlist",
            json!(["Hello, %s!", ["Valentina", "Ander", "Olivia", "Sam"]]),
            json!([
                "Hello, Valentina!",
                "Hello, Ander!",
                "Hello, Olivia!",
                "Hello, Sam!"
            ]),
        ),
        (
            "formatlist",
            json!(["%s, %s!", "Salutations", ["Valentina", "Ander"]]),
            json!(["Salutations, Valentina!", "Salutations, Ander!"]),
        ),
    ]);
    errors(&[
        ("regex", json!(["[a-z]+", "12345"]), "did not match"),
        ("regex", json!(["(", "x"]), "invalid regular expression"),
        (
            "formatlist",
            json!(["%s %s", ["a", "b"], ["c"]]),
            "which is inconsistent with argument 1 of length 2",
        ),
    ]);
}

#[test]
fn collection_functions() {
    table(&[
        ("alltrue", json!([["true", true]]), json!(true)),
        ("alltrue", json!([[true, false]]), json!(false)),
        ("alltrue", json!([[]]), json!(true)),
        ("anytrue", json!([["true"]]), json!(true)),
        ("anytrue", json!([[true, false]]), json!(true)),
        ("anytrue", json!([[]]), json!(false)),
        (
            "chunklist",
            json!([["a", "b", "c", "d", "e"], 2]),
            json!([["a", "b"], ["c", "d"], ["e"]]),
        ),
        (
            "chunklist",
            json!([["a", "b", "c", "d", "e"], 1]),
            json!([["a"], ["b"], ["c"], ["d"], ["e"]]),
        ),
        (
            "coalescelist",
            json!([["a", "b"], ["c", "d"]]),
            json!(["a", "b"]),
        ),
        ("coalescelist", json!([[], ["c", "d"]]), json!(["c", "d"])),
        ("index", json!([["a", "b", "c"], "b"]), json!(1)),
        (
            "matchkeys",
            json!([
                ["i-123", "i-abc", "i-def"],
                ["us-west", "us-east", "us-east"],
                ["us-east"]
            ]),
            json!(["i-abc", "i-def"]),
        ),
        ("range", json!([3]), json!([0, 1, 2])),
        ("range", json!([1, 4]), json!([1, 2, 3])),
        ("range", json!([1, 8, 2]), json!([1, 3, 5, 7])),
        ("range", json!([1, 4, 0.5]), json!([1, 1.5, 2, 2.5, 3, 3.5])),
        ("range", json!([4, 1]), json!([4, 3, 2])),
        ("range", json!([10, 5, -2]), json!([10, 8, 6])),
        (
            "setintersection",
            json!([["a", "b"], ["b", "c"], ["b", "d"]]),
            json!(["b"]),
        ),
        (
            "setproduct",
            json!([["development", "staging"], ["app1", "app2"]]),
            json!([
                ["development", "app1"],
                ["development", "app2"],
                ["staging", "app1"],
                ["staging", "app2"]
            ]),
        ),
        (
            "setsubtract",
            json!([["a", "b", "c"], ["a", "c"]]),
            json!(["b"]),
        ),
        (
            "setunion",
            json!([["a", "b"], ["b", "c"], ["d"]]),
            json!(["a", "b", "c", "d"]),
        ),
        (
            "transpose",
            json!([{"a": ["1", "2"], "b": ["2", "3"]}]),
            json!({"1": ["a"], "2": ["a", "b"], "3": ["b"]}),
        ),
    ]);
    errors(&[
        ("index", json!([["a"], "z"]), "not in the list"),
        ("range", json!([1, 4, 0]), "step must not be zero"),
        ("coalescelist", json!([[], []]), "every list is empty"),
        (
            "matchkeys",
            json!([["a"], ["x", "y"], ["x"]]),
            "same length",
        ),
    ]);
}

#[test]
fn numeric_functions() {
    table(&[
        ("sum", json!([[10, 13, 6, 4.5]]), json!(33.5)),
        ("sum", json!([["1", "2.5"]]), json!(3.5)),
    ]);
    errors(&[
        ("sum", json!([[]]), "cannot sum an empty list"),
        ("sum", json!([["x"]]), "\"x\" is not one"),
        ("substr", json!(["abc", 4, 1]), "beyond the end"),
    ]);
    table(&[
        ("pow", json!([3, 2]), json!(9)),
        ("pow", json!([4, 0]), json!(1)),
        ("signum", json!([-13]), json!(-1)),
        ("signum", json!([0]), json!(0)),
        ("signum", json!([344]), json!(1)),
        ("parseint", json!(["100", 10]), json!(100)),
        ("parseint", json!(["FF", 16]), json!(255)),
        ("parseint", json!(["-10", 16]), json!(-16)),
        ("parseint", json!(["1011111011101111", 2]), json!(48879)),
        ("parseint", json!(["aA", 62]), json!(656)),
    ]);
    let log = run("log", json!([50, 10])).unwrap();
    assert!(matches!(log, Value::Number(n) if (n.to_f64() - 1.6989700043360185).abs() < 1e-12));
    assert_eq!(run("log", json!([16, 2])).unwrap(), Value::from(4.0));
    errors(&[
        ("parseint", json!(["12", 2]), "is not a base-2 integer"),
        ("parseint", json!(["12", 63]), "from 2 to 62"),
    ]);
}

#[test]
fn hash_and_encoding_functions() {
    table(&[
        ("md5", json!(["hello world"]), json!("5eb63bbbe01eeed093cb22bb8f5acdc3")),
        ("sha1", json!(["hello world"]), json!("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed")),
        (
            "sha512",
            json!(["hello world"]),
            json!("309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f"),
        ),
        ("base64sha256", json!(["hello world"]), json!("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")),
        (
            "base64sha512",
            json!(["hello world"]),
            json!("MJ7MSJwS1utMxA9QyQLytNDtd+5RGnx6m808qG1M2G+YndNbxf9JlnDaNCVbRbDP2DDoH2Bdz33FVC6TrpzXbw=="),
        ),
        ("uuidv5", json!(["dns", "www.terraform.io"]), json!("a5008fae-b28c-5ba5-96cd-82b4c53552d6")),
        ("uuidv5", json!(["url", "https://www.terraform.io/"]), json!("9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5")),
        ("uuidv5", json!(["oid", "1.3.6.1.4"]), json!("af9d40a5-7a36-5c07-b23a-851cd99fbfa5")),
        (
            "uuidv5",
            json!(["6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.terraform.io"]),
            json!("a5008fae-b28c-5ba5-96cd-82b4c53552d6"),
        ),
        ("urlencode", json!(["Hello World!"]), json!("Hello+World%21")),
        ("urlencode", json!(["☃"]), json!("%E2%98%83")),
        (
            "urlencode",
            json!(["foo:bar@localhost?foo=bar&bar=baz"]),
            json!("foo%3Abar%40localhost%3Ffoo%3Dbar%26bar%3Dbaz"),
        ),
        (
            "csvdecode",
            json!(["a,b,c\n1,2,3\n4,5,6"]),
            json!([{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": "6"}]),
        ),
        (
            "csvdecode",
            json!(["name,note\r\n\"Smith, J\",\"says \"\"hi\"\"\"\r\n"]),
            json!([{"name": "Smith, J", "note": "says \"hi\""}]),
        ),
    ]);
    let u = run("uuid", json!([])).unwrap();
    let u = u.as_str().unwrap();
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4", "a version 4 UUID: {u}");
    errors(&[
        (
            "uuidv5",
            json!(["nope", "x"]),
            "is not dns, url, oid, x500 or a UUID",
        ),
        ("csvdecode", json!(["a,b\n1"]), "line 2 has 1 fields"),
        ("csvdecode", json!(["a\n\"open"]), "not closed"),
    ]);
}

#[test]
fn network_functions() {
    table(&[
        (
            "cidrhost",
            json!(["10.12.112.0/20", 16]),
            json!("10.12.112.16"),
        ),
        (
            "cidrhost",
            json!(["10.12.112.0/20", 268]),
            json!("10.12.113.12"),
        ),
        (
            "cidrhost",
            json!(["fd00:fd12:3456:7890:00a2::/72", 34]),
            json!("fd00:fd12:3456:7890::22"),
        ),
        ("cidrhost", json!(["10.0.0.0/24", -1]), json!("10.0.0.255")),
        (
            "cidrnetmask",
            json!(["172.16.0.0/12"]),
            json!("255.240.0.0"),
        ),
        (
            "cidrsubnet",
            json!(["172.16.0.0/12", 4, 2]),
            json!("172.18.0.0/16"),
        ),
        (
            "cidrsubnet",
            json!(["10.1.2.0/24", 4, 15]),
            json!("10.1.2.240/28"),
        ),
        (
            "cidrsubnet",
            json!(["fd00:fd12:3456:7890::/56", 16, 162]),
            json!("fd00:fd12:3456:7800:a200::/72"),
        ),
        (
            "cidrsubnets",
            json!(["10.1.0.0/16", 4, 4, 8, 4]),
            json!([
                "10.1.0.0/20",
                "10.1.16.0/20",
                "10.1.32.0/24",
                "10.1.48.0/20"
            ]),
        ),
        (
            "cidrsubnets",
            json!(["fd00:fd12:3456:7890::/56", 16, 16, 16, 32]),
            json!([
                "fd00:fd12:3456:7800::/72",
                "fd00:fd12:3456:7800:100::/72",
                "fd00:fd12:3456:7800:200::/72",
                "fd00:fd12:3456:7800:300::/88"
            ]),
        ),
    ]);
    errors(&[
        ("cidrhost", json!(["10.0.0.0/30", 4]), "does not fit"),
        ("cidrsubnet", json!(["10.0.0.0/30", 4, 0]), "do not fit"),
        (
            "cidrsubnet",
            json!(["10.0.0.0/16", 2, 4]),
            "does not fit in 2 new bits",
        ),
        ("cidrnetmask", json!(["fd00::/56"]), "IPv4"),
        (
            "cidrsubnets",
            json!(["10.0.0.0/24", 1, 1, 1]),
            "not enough room",
        ),
        ("cidrhost", json!(["10.0.0.300/24", 1]), "not a CIDR prefix"),
    ]);
}

#[test]
fn filesystem_functions() {
    table(&[
        ("dirname", json!(["foo/bar/baz.txt"]), json!("foo/bar")),
        ("dirname", json!(["baz.txt"]), json!(".")),
        ("dirname", json!(["/baz.txt"]), json!("/")),
        ("basename", json!(["foo/bar/baz.txt"]), json!("baz.txt")),
        ("basename", json!(["foo/bar/"]), json!("bar")),
        ("abspath", json!(["/a/b/../c/./d"]), json!("/a/c/d")),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("files/deep")).unwrap();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    for f in [
        "files/hello.txt",
        "files/world.txt",
        "files/deep/x.txt",
        "files/a.md",
        "templates/t.tpl",
    ] {
        std::fs::write(d.join(f), "hello world").unwrap();
    }
    let ctx = CallContext {
        module_dir: Some(d),
    };
    let at = |name: &str, args: serde_json::Value| {
        let args: Vec<Value> = args
            .as_array()
            .unwrap()
            .iter()
            .map(Value::from_json)
            .collect();
        call(name, &args, &ctx).map_err(|e| format!("{e:?}"))
    };
    assert_eq!(
        at("fileset", json!([".", "files/*.txt"])).unwrap(),
        v(json!(["files/hello.txt", "files/world.txt"]))
    );
    assert_eq!(
        at("fileset", json!([".", "{files,templates}/**"])).unwrap(),
        v(json!([
            "files/a.md",
            "files/deep/x.txt",
            "files/hello.txt",
            "files/world.txt",
            "templates/t.tpl"
        ]))
    );
    assert_eq!(
        at("fileset", json!(["files", "**/*.txt"])).unwrap(),
        v(json!(["deep/x.txt", "hello.txt", "world.txt"]))
    );
    assert_eq!(
        at("fileset", json!(["nowhere", "*"])).unwrap(),
        v(json!([]))
    );
    assert_eq!(
        at("fileexists", json!(["files/hello.txt"])).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        at("fileexists", json!(["files/nope.txt"])).unwrap(),
        Value::Bool(false)
    );
    assert!(at("fileexists", json!(["files"]))
        .unwrap_err()
        .contains("not a regular file"));
    let f = json!(["files/hello.txt"]);
    assert_eq!(
        at("filemd5", f.clone()).unwrap(),
        Value::from("5eb63bbbe01eeed093cb22bb8f5acdc3")
    );
    assert_eq!(
        at("filesha1", f.clone()).unwrap(),
        Value::from("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed")
    );
    assert_eq!(
        at("filesha256", f.clone()).unwrap(),
        Value::from("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
    );
    assert_eq!(
        at("filebase64", f).unwrap(),
        Value::from("aGVsbG8gd29ybGQ=")
    );
    let home = std::env::var("HOME").unwrap_or_default();
    if !home.is_empty() {
        assert_eq!(
            run("pathexpand", json!(["~/.ssh/id_rsa"])).unwrap(),
            Value::from(format!("{}/.ssh/id_rsa", home.trim_end_matches('/')))
        );
    }
    assert_eq!(
        run("pathexpand", json!(["/etc/x"])).unwrap(),
        Value::from("/etc/x")
    );
}

#[test]
fn and_and_or_short_circuit() {
    // The right side is not evaluated when the left decides: no error from it.
    assert_eq!(
        eval_str("null != null && null.attr == 1"),
        Value::Bool(false)
    );
    assert_eq!(eval_str("true || tonumber(\"x\") == 1"), Value::Bool(true));
    assert_eq!(eval_str("true && false"), Value::Bool(false));
    assert_eq!(eval_str("false || true"), Value::Bool(true));
}

/// Every function is listed in docs/language.md.
#[test]
fn every_function_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md"))
        .unwrap();
    for name in super::names() {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/language.md does not list `{name}`"
        );
    }
}

#[test]
fn jsonencode_escapes_as_terraform_does() {
    table(&[
        (
            "jsonencode",
            json!(["<b>&</b>"]),
            json!("\"\\u003cb\\u003e\\u0026\\u003c/b\\u003e\""),
        ),
        (
            "jsonencode",
            json!([{"a": "x\u{2028}y"}]),
            json!("{\"a\":\"x\\u2028y\"}"),
        ),
    ]);
    // What it writes reads back the same.
    let enc = run("jsonencode", json!([{"k": "<&>"}])).unwrap();
    assert_eq!(
        run("jsondecode", serde_json::Value::Array(vec![enc.to_json()])).unwrap(),
        v(json!({"k": "<&>"}))
    );
}

#[test]
fn a_template_of_one_interpolation_is_its_value() {
    assert_eq!(eval_str("\"${true}\""), Value::Bool(true));
    assert_eq!(eval_str("\"${[1, 2]}\""), v(json!([1, 2])));
    assert_eq!(eval_str("\"${5}\""), Value::from(5.0));
    // Anything around it makes a string.
    assert_eq!(eval_str("\"x${5}\""), Value::from("x5"));
    assert_eq!(eval_str("\"${5} \""), Value::from("5 "));
}

#[test]
fn splats_follow_hcl() {
    // A full splat applies what follows to each element, splats after it nest.
    assert_eq!(
        eval_str("[{ a = [1, 2] }, { a = [3] }][*].a[0]"),
        v(json!([1, 3]))
    );
    assert_eq!(
        eval_str("[{ b = [{ c = 1 }, { c = 2 }] }, { b = [{ c = 3 }] }][*].b[*].c"),
        v(json!([[1, 2], [3]]))
    );
    // A legacy attribute splat applies only the attribute reads; an index after them
    // takes an element of the result.
    assert_eq!(eval_str("[{ a = 1 }, { a = 2 }].*.a[0]"), v(json!(1)));
    assert_eq!(
        eval_str("[{ a = { b = 1 } }, { a = { b = 2 } }].*.a.b"),
        v(json!([1, 2]))
    );
    // A value that is not a list is a list of one; null is an empty list.
    assert_eq!(eval_str("{ a = 1 }[*].a"), v(json!([1])));
    assert_eq!(eval_str("length(null[*])"), v(json!(0)));
}

#[test]
fn object_keys_follow_hcl() {
    // Bare keywords are names; jsonencode writes them as keys.
    assert_eq!(
        eval_str("jsonencode({ null = 1, true = 2, name = 3 })"),
        v(json!("{\"name\":3,\"null\":1,\"true\":2}"))
    );
    // A key in parentheses is its value.
    assert_eq!(eval_str("{ (\"a${1}\") = 1 }"), v(json!({"a1": 1})));
    // `{ a.b = 1 }` is ambiguous: an error that says how to write either meaning.
    let e: crate::config::syntax::Expression = "{ var.x = 1 }".parse().unwrap();
    let scope = crate::config::expr::Scope::default();
    let mut ev = crate::config::expr::Evaluator::new(&scope, 0);
    assert!(ev.try_eval(&e).is_err());
    assert_eq!(ev.diags[0].summary, "ambiguous object key `var.x`");
    assert!(ev.diags[0].help.as_deref().unwrap().contains("(var.x) = …"));
}

#[test]
fn yaml_functions() {
    table(&[
        // Terraform's documented examples.
        (
            "yamlencode",
            json!([{"a": "b", "c": "d"}]),
            json!("\"a\": \"b\"\n\"c\": \"d\"\n"),
        ),
        (
            "yamlencode",
            json!([{"foo": [1, 2, 3], "bar": "baz"}]),
            json!("\"bar\": \"baz\"\n\"foo\":\n- 1\n- 2\n- 3\n"),
        ),
        (
            "yamlencode",
            json!([{"foo": [1, {"a": "b", "c": "d"}, 3], "bar": "baz"}]),
            json!("\"bar\": \"baz\"\n\"foo\":\n- 1\n- \"a\": \"b\"\n  \"c\": \"d\"\n- 3\n"),
        ),
        (
            "yamlencode",
            json!([{"a": {"b": true, "c": null}, "e": [], "f": {}}]),
            json!("\"a\":\n  \"b\": true\n  \"c\": null\n\"e\": []\n\"f\": {}\n"),
        ),
        (
            "yamlencode",
            json!([[[1, 2], "x\ny"]]),
            json!("- - 1\n  - 2\n- \"x\\ny\"\n"),
        ),
        ("yamlencode", json!(["hi"]), json!("\"hi\"\n")),
        (
            "yamldecode",
            json!(["hello: world"]),
            json!({"hello": "world"}),
        ),
        ("yamldecode", json!(["true"]), json!(true)),
        (
            "yamldecode",
            json!(["{a: &foo [1, 2, 3], b: 1.5}"]).clone(),
            json!({"a": [1, 2, 3], "b": 1.5}),
        ),
        (
            "yamldecode",
            json!(["- yes\n- 2\n- ~\n"]),
            json!(["yes", 2, null]),
        ),
        ("yamldecode", json!([""]), json!(null)),
        // An alias is its anchor's value.
        (
            "yamldecode",
            json!(["a: &x 1\nb: *x\n"]),
            json!({"a": 1, "b": 1}),
        ),
    ]);
    errors(&[
        (
            "yamldecode",
            json!(["a: 1\n---\nb: 2\n"]),
            "more than one YAML document",
        ),
        ("yamldecode", json!(["a: [1, 2"]), "invalid YAML"),
    ]);
    // What yamlencode writes, yamldecode reads back.
    let v1 = v(
        json!({"pools": [{"name": "h100", "gpus": 8}, {"name": "l4", "zones": ["a", "b"]}], "x": "a\"b"}),
    );
    let text = run("yamlencode", serde_json::Value::Array(vec![v1.to_json()])).unwrap();
    assert_eq!(
        run("yamldecode", serde_json::Value::Array(vec![text.to_json()])).unwrap(),
        v1
    );
}

#[test]
fn time_functions() {
    table(&[
        (
            "formatdate",
            json!(["DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z"]),
            json!("02 Jan 2018 23:12 UTC"),
        ),
        (
            "formatdate",
            json!(["EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2018-01-02T23:12:01Z"]),
            json!("Tuesday, 02-Jan-18 23:12:01 UTC"),
        ),
        (
            "formatdate",
            json!(["EEE, DD MMM YYYY hh:mm:ss ZZZ", "2018-01-02T23:12:01-08:00"]),
            json!("Tue, 02 Jan 2018 23:12:01 -0800"),
        ),
        (
            "formatdate",
            json!(["MMM DD, YYYY", "2018-01-02T23:12:01Z"]),
            json!("Jan 02, 2018"),
        ),
        (
            "formatdate",
            json!(["HH:mmaa", "2018-01-02T23:12:01Z"]),
            json!("11:12pm"),
        ),
        (
            "formatdate",
            json!(["H:m:s AA", "2018-01-02T00:02:03Z"]),
            json!("12:2:3 AM"),
        ),
        (
            "formatdate",
            json!(["'Today is' EEEE, D MMMM", "2024-02-29T10:00:00+05:30"]),
            json!("Today is Thursday, 29 February"),
        ),
        (
            "formatdate",
            json!(["h 'o''clock' ''", "2018-01-02T09:00:00Z"]),
            json!("9 o'clock '"),
        ),
        (
            "formatdate",
            json!(["Z ZZZZ ZZZZZ", "2018-01-02T09:00:00Z"]),
            json!("Z +0000 +00:00"),
        ),
        (
            "formatdate",
            json!(["Z ZZZZZ", "2018-01-02T09:00:00.123-03:30"]),
            json!("-03:30 -03:30"),
        ),
        (
            "formatdate",
            json!(["EEEE YYYY-MM-DD", "2000-03-01T00:00:00Z"]),
            json!("Wednesday 2000-03-01"),
        ),
        (
            "formatdate",
            json!(["EEE YYYY-MM-DD", "1969-12-31T23:59:59Z"]),
            json!("Wed 1969-12-31"),
        ),
        (
            "timeadd",
            json!(["2017-11-22T00:00:00Z", "10m"]),
            json!("2017-11-22T00:10:00Z"),
        ),
        (
            "timeadd",
            json!(["2017-11-22T00:00:00Z", "-1h30m"]),
            json!("2017-11-21T22:30:00Z"),
        ),
        (
            "timeadd",
            json!(["2017-11-22T00:00:00+05:30", "1.5h"]),
            json!("2017-11-22T01:30:00+05:30"),
        ),
        (
            "timeadd",
            json!(["2024-02-28T23:00:00Z", "24h"]),
            json!("2024-02-29T23:00:00Z"),
        ),
        (
            "timeadd",
            json!(["2017-11-22T00:00:00.5Z", "500ms"]),
            json!("2017-11-22T00:00:01Z"),
        ),
        (
            "timeadd",
            json!(["2017-11-22T00:00:00Z", "0"]),
            json!("2017-11-22T00:00:00Z"),
        ),
        (
            "timecmp",
            json!(["2017-11-22T00:00:00Z", "2017-11-22T00:00:00Z"]),
            json!(0),
        ),
        (
            "timecmp",
            json!(["2017-11-22T00:00:00Z", "2017-11-22T01:00:00Z"]),
            json!(-1),
        ),
        (
            "timecmp",
            json!(["2017-11-22T01:00:00Z", "2017-11-22T00:00:00Z"]),
            json!(1),
        ),
        (
            "timecmp",
            json!(["2017-11-22T01:00:00Z", "2017-11-22T00:00:00-01:00"]),
            json!(0),
        ),
    ]);
    errors(&[
        (
            "formatdate",
            json!(["YYY", "2018-01-02T23:12:01Z"]),
            "year must either be \"YY\" or \"YYYY\"",
        ),
        (
            "formatdate",
            json!(["'open", "2018-01-02T23:12:01Z"]),
            "unterminated literal",
        ),
        (
            "formatdate",
            json!(["DD", "2018-01-02 23:12:01Z"]),
            "missing required time introducer 'T'",
        ),
        (
            "formatdate",
            json!(["DD", "2023-02-29T00:00:00Z"]),
            "expected a day of that month",
        ),
        (
            "formatdate",
            json!(["DD", "2018-01-02T23:12:01"]),
            "end of string before the UTC offset",
        ),
        (
            "formatdate",
            json!(["x", "2018-01-02T23:12:01Z"]),
            "invalid date format verb \"x\"",
        ),
        (
            "timeadd",
            json!(["2017-11-22T00:00:00Z", "10"]),
            "is not a duration",
        ),
        (
            "timeadd",
            json!(["2017-11-22T00:00:00Z", "1d"]),
            "is not a duration",
        ),
        (
            "timecmp",
            json!(["2017-11-22T00:00:00Z", "yesterday"]),
            "argument 2",
        ),
    ]);
}

#[test]
fn timestamp_is_known_after_apply_and_plantimestamp_is_fixed() {
    assert_eq!(run("timestamp", json!([])), Ok(Value::Unknown));
    let at_apply = super::while_applying(|| run("timestamp", json!([]))).unwrap();
    let s = at_apply.as_str().unwrap().to_string();
    assert!(
        s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T',
        "{s}"
    );
    assert_eq!(
        run("timecmp", json!([s, "2026-01-01T00:00:00Z"])),
        Ok(Value::from(1.0))
    );
    let plan = run("plantimestamp", json!([])).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        run("plantimestamp", json!([])).unwrap(),
        plan,
        "one plan, one time"
    );
    let plan = plan.as_str().unwrap().to_string();
    assert_eq!(
        run("formatdate", json!(["YYYY", plan]))
            .unwrap()
            .as_str()
            .map(str::len),
        Some(4)
    );
}

#[test]
fn text_encodings_gzip_and_bcrypt() {
    table(&[
        (
            "textencodebase64",
            json!(["Hello World", "UTF-16LE"]),
            json!("SABlAGwAbABvACAAVwBvAHIAbABkAA=="),
        ),
        (
            "textdecodebase64",
            json!(["SABlAGwAbABvACAAVwBvAHIAbABkAA==", "UTF-16LE"]),
            json!("Hello World"),
        ),
        (
            "textencodebase64",
            json!(["Hi", "utf-16be"]),
            json!("AEgAaQ=="),
        ),
        (
            "textencodebase64",
            json!(["Hi", "UTF-16"]),
            json!("/v8ASABp"),
        ),
        (
            "textdecodebase64",
            json!(["//5IAGkA", "UTF-16"]),
            json!("Hi"),
        ),
        (
            "textencodebase64",
            json!(["café", "ISO-8859-1"]),
            json!("Y2Fm6Q=="),
        ),
        (
            "textdecodebase64",
            json!(["Y2Fm6Q==", "windows-1252"]),
            json!("café"),
        ),
        (
            "textencodebase64",
            json!(["日本", "Shift_JIS"]),
            json!("k/qWew=="),
        ),
        (
            "textdecodebase64",
            json!(["k/qWew==", "shift_jis"]),
            json!("日本"),
        ),
        ("textencodebase64", json!(["ok", "UTF-8"]), json!("b2s=")),
    ]);
    errors(&[
        (
            "textencodebase64",
            json!(["x", "klingon"]),
            "is not a supported IANA encoding name",
        ),
        (
            "textencodebase64",
            json!(["日本", "ISO-8859-1"]),
            "cannot be represented in ISO-8859-1",
        ),
        (
            "textdecodebase64",
            json!(["gQ==", "Shift_JIS"]),
            "not defined for Shift_JIS",
        ),
        (
            "textdecodebase64",
            json!(["%%%", "UTF-8"]),
            "not valid base64",
        ),
        ("bcrypt", json!(["x", 3]), "from 4 to 31"),
    ]);
    // gzip: the base64 of a gzip stream that decompresses to the input.
    let text = "hello, ".repeat(50);
    let Value::String(b64) = run("base64gzip", json!([text])).unwrap() else {
        panic!()
    };
    assert!(b64.starts_with("H4sI"), "{b64}");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .unwrap();
    assert!(
        bytes.len() < text.len() / 4,
        "compressed: {} bytes",
        bytes.len()
    );
    let mut out = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out).unwrap();
    assert_eq!(out, text);
    // bcrypt: a $2a$ hash with the cost asked for, a fresh salt each call.
    let Value::String(h) = run("bcrypt", json!(["hello world"])).unwrap() else {
        panic!()
    };
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    assert!(bcrypt::verify("hello world", &h).unwrap());
    let Value::String(h2) = run("bcrypt", json!(["hello world", 4])).unwrap() else {
        panic!()
    };
    assert!(h2.starts_with("$2a$04$"));
    assert_ne!(
        run("bcrypt", json!(["x", 4])),
        run("bcrypt", json!(["x", 4]))
    );
}

#[test]
fn conditional_arms_and_coalesce_unify_to_one_type() {
    let rows = [
        (r#"true ? 12 : "hello""#, json!("12")),
        (r#"false ? 12 : "hello""#, json!("hello")),
        ("true ? 1 : 2", json!(1)),
        (r#"true ? [1, true] : ["a"]"#, json!(["1", "true"])),
        (r#"true ? { a = 1 } : { b = "x" }"#, json!({"a": "1"})),
        (r#"true ? null : "x""#, json!(null)),
        // The arm not taken is read for its type only: its errors do not count.
        (r#"false ? tonumber("no") : 1"#, json!(1)),
        (r#"true ? "a" : [for x in [1] : x][5]"#, json!("a")),
    ];
    for (src, want) in rows {
        assert_eq!(eval_str(src), v(want), "{src}");
    }
    let e: crate::config::syntax::Expression = "true ? 1 : false".parse().unwrap();
    let scope = crate::config::expr::Scope::default();
    let mut ev = crate::config::expr::Evaluator::new(&scope, 0);
    assert!(ev.try_eval(&e).is_err());
    assert!(
        ev.diags[0].summary.contains("inconsistent conditional result types: the true and false results have number and bool"),
        "{:?}",
        ev.diags
    );
    table(&[
        ("coalesce", json!(["a", "b"]), json!("a")),
        ("coalesce", json!(["", "b"]), json!("b")),
        ("coalesce", json!([1, 2]), json!(1)),
        ("coalesce", json!([null, 1, "x"]), json!("1")),
    ]);
    errors(&[(
        "coalesce",
        json!([1, true]),
        "all arguments must have the same type",
    )]);
}

#[test]
fn type_conversion_functions() {
    table(&[
        ("tolist", json!([["a", "b", "c"]]), json!(["a", "b", "c"])),
        ("tolist", json!([["a", "b", 3]]), json!(["a", "b", "3"])),
        ("toset", json!([["a", "b", "c"]]), json!(["a", "b", "c"])),
        ("toset", json!([["a", "b", 3]]), json!(["3", "a", "b"])),
        ("toset", json!([["c", "b", "b"]]), json!(["b", "c"])),
        ("toset", json!([[3, 1, 2, 1]]), json!([1, 2, 3])),
        ("tomap", json!([{"a": 1, "b": 2}]), json!({"a": 1, "b": 2})),
        (
            "tomap",
            json!([{"a": "foo", "b": true}]),
            json!({"a": "foo", "b": "true"}),
        ),
        ("tolist", json!([[[1], ["a"]]]), json!([["1"], ["a"]])),
    ]);
    errors(&[
        (
            "tolist",
            json!([[1, true]]),
            "cannot convert tuple to list of any single type (number and bool)",
        ),
        (
            "toset",
            json!([["a", ["b"]]]),
            "cannot convert tuple to set of any single type (string and list)",
        ),
        (
            "tomap",
            json!([{"a": 1, "b": {"c": 1}}]),
            "cannot convert object to map of any single type (number and object)",
        ),
    ]);
}

/// Numbers are Terraform's: written numbers and exact arithmetic at 512 bits, so whole
/// numbers beyond 2^53 and decimal sums keep their value; floating-point functions (pow,
/// log) give 64-bit results; each prints with the fewest digits that read back.
#[test]
fn numbers_keep_terraforms_precision() {
    let shown = |text: &str| {
        mlinfra_schema::format_number(match &eval_str(text) {
            Value::Number(n) => n,
            other => panic!("{text}: {other:?}"),
        })
    };
    for (text, want) in [
        ("9007199254740993 + 1", "9007199254740994"),
        ("9007199254740993 - 9007199254740992", "1"),
        ("0.1 + 0.2", "0.3"),
        ("0.1 * 1.5", "0.15"),
        ("sum([0.1, 0.2, 0.3])", "0.6"),
        (
            "100000000000000000000 * 100000000000000000000",
            "10000000000000000000000000000000000000000",
        ),
        ("7.5 % 2", "1.5"),
        ("-7 % 3", "-1"),
        ("5 / 2", "2.5"),
        ("floor(-0.5)", "-1"),
        ("ceil(1e30 + 0.5)", "1000000000000000000000000000001"),
        (
            "max(9007199254740993, 9007199254740992)",
            "9007199254740993",
        ),
        (
            "abs(-123456789012345678901234567890)",
            "123456789012345678901234567890",
        ),
        (
            "parseint(\"123456789012345678901234567890\", 10)",
            "123456789012345678901234567890",
        ),
        (
            "parseint(\"-ffffffffffffffffffff\", 16)",
            "-1208925819614629174706175",
        ),
        (
            "tonumber(\"12345678901234567890.5\")",
            "12345678901234567890.5",
        ),
        // A float64 result prints as the float it is (2^64 is 1.8446744073709552e19).
        ("pow(2, 64)", "18446744073709550000"),
        ("log(16, 2)", "4"),
    ] {
        assert_eq!(shown(text), want, "{text}");
    }
    for (text, want) in [
        (
            "format(\"%d\", 123456789012345678901234567890)",
            "123456789012345678901234567890",
        ),
        ("format(\"%x\", 18446744073709551617)", "10000000000000001"),
        ("jsonencode(9007199254740993)", "9007199254740993"),
        ("\"n=${9007199254740993}\"", "n=9007199254740993"),
        ("tostring(0.1 + 0.2)", "0.3"),
    ] {
        assert_eq!(eval_str(text), Value::String(want.into()), "{text}");
    }
    assert_eq!(
        eval_str("9007199254740993 == 9007199254740992"),
        Value::Bool(false)
    );
    assert_eq!(eval_str("0.1 + 0.2 == 0.3"), Value::Bool(true));
    assert_eq!(eval_str("[\"a\", \"b\"][1.0]"), Value::String("b".into()));
}
