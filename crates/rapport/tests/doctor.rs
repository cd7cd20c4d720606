//! `rapport doctor` on a running installation: all good, then a key file others can read and
//! a database it cannot reach are failures that say what to do; nothing is changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(what)))
        .unwrap_or_else(|| panic!("no {what} line in:\n{out}"))
}

story!(doctor_says_what_to_fix, |app| {
    // The server has started: migrations applied, key file written.
    let (code, out, err) = app.cli(&["doctor"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(line(&out, "database").starts_with("ok"), "{out}");
    assert!(
        line(&out, "database").contains("migrations applied"),
        "{out}"
    );
    assert!(line(&out, "key file").starts_with("ok"), "{out}");
    assert!(line(&out, "data directory").starts_with("ok"), "{out}");
    assert!(line(&out, "disk").contains("GiB free"), "{out}");
    assert!(line(&out, "clock").starts_with("ok"), "{out}");
    // No backup yet: a warning that says how to make them.
    let l = line(&out, "backups");
    assert!(l.starts_with("warn") && l.contains("rapport backup"), "{l}");
    let (code, out, err) = app.cli(&["backup"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = app.cli(&["doctor"]);
    let l = line(&out, "backups");
    assert!(l.contains("newest backup"), "{l}");
    // The test's backups are beside the database: on the same disk.
    assert!(l.starts_with("warn") && l.contains("same disk"), "{l}");

    // A key file others can read: a failure naming the command that fixes it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = app.dir.join("rapport.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (code, out, _) = app.cli(&["doctor"]);
        assert_eq!(code, 1, "{out}");
        let l = line(&out, "key file");
        assert!(l.starts_with("FAIL") && l.contains("chmod 600"), "{l}");
        // Doctor only reports: the mode is as it was.
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // A database it cannot reach.
    let unreachable = match app.backend {
        common::Backend::Sqlite => "sqlite:///nonexistent-dir/rapport.db".to_string(),
        common::Backend::Postgres => "postgres://postgres@127.0.0.1:1/none".to_string(),
    };
    let out = app
        .command()
        .env("RAPPORT_DATABASE_URL", &unreachable)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let l = line(&text, "database");
    match app.backend {
        // A SQLite file that does not exist yet is a first start, not a failure, and is not
        // created.
        common::Backend::Sqlite => {
            assert!(l.starts_with("warn") && l.contains("created when"), "{l}");
            assert!(!std::path::Path::new("/nonexistent-dir").exists());
        }
        common::Backend::Postgres => {
            assert_eq!(out.status.code(), Some(1), "{text}");
            assert!(
                l.starts_with("FAIL") && l.contains("RAPPORT_DATABASE_URL"),
                "{l}"
            );
        }
    }
});
