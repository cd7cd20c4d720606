//! Exports as CSV and XLSX: the list's scope, filter and order, hidden fields left out, and
//! cells a spreadsheet would run as formulas neutralised (CSV) or written as text (XLSX, read
//! back with Python's openpyxl).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use reqwest::StatusCode;
use serde_json::{json, Value};

const READ_XLSX: &str = r#"
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb.active
print(json.dumps({"title": ws.title,
  "rows": [[c.value for c in row] for row in ws.iter_rows()],
  "types": sorted({c.data_type for row in ws.iter_rows() for c in row if c.value is not None})},
  ensure_ascii=False))
"#;

/// A workbook read back by openpyxl.
fn read_xlsx(body: &[u8]) -> Value {
    let file = std::env::temp_dir().join(format!("rapport-{}.xlsx", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, body).unwrap();
    let book = common::python(READ_XLSX, &[file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    book
}

async fn download(
    app: &common::App,
    s: &common::Session,
    path: &str,
) -> (StatusCode, String, Vec<u8>) {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, res.bytes().await.unwrap().to_vec())
}

story!(exports_follow_the_list_and_never_run_formulas, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep.a@example.com", "sales_rep", Some("East"), None)
        .await;
    app.user("rep.b@example.com", "sales_rep", Some("East"), None)
        .await;
    let admin = app.login("admin@example.com").await;
    let a = app.login("rep.a@example.com").await;
    let b = app.login("rep.b@example.com").await;
    for (name, phone, revenue) in [
        (
            "=HYPERLINK(\"http://evil.example\",\"点我\")",
            "+86 21 5555 0101",
            "100.00",
        ),
        ("北京星辰科技", "021-6888 1234", "-250.50"),
        ("@SUM(1+1)", "", ""),
        ("安徽远景", "", "99.00"),
    ] {
        let mut body = json!({"name": name});
        if !phone.is_empty() {
            body["phone"] = json!(phone);
        }
        if !revenue.is_empty() {
            body["annual_revenue"] = json!(revenue);
        }
        let (s, r) = app.post(&a, "/api/v1/accounts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }

    // CSV sorted by name, with a BOM; formula-looking cells start with an apostrophe.
    let (s, ct, body) = download(
        &app,
        &a,
        "/api/v1/accounts/export?cols=name,phone,annual_revenue&sort=name",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"));
    assert_eq!(&body[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names.len(), 4);
    assert!(
        names.contains(&"'=HYPERLINK(\"http://evil.example\",\"点我\")"),
        "{names:?}"
    );
    assert!(names.contains(&"'@SUM(1+1)"), "{names:?}");
    assert!(rows.iter().any(|r| r[2] == "'+862155550101"), "{rows:?}");
    assert!(
        rows.iter().any(|r| r[3] == "-250.50"),
        "a negative amount stays a number: {rows:?}"
    );
    // The order is the list's order.
    let (_, list) = app.get(&a, "/api/v1/accounts?sort=name&limit=10").await;
    let listed: Vec<String> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    let exported: Vec<String> = names
        .iter()
        .map(|n| n.strip_prefix('\'').unwrap_or(n).to_string())
        .collect();
    assert_eq!(exported, listed);

    // XLSX: the same rows as text cells (no formulas), Chinese intact.
    let (s, ct, body) = download(
        &app,
        &a,
        "/api/v1/accounts/export?format=xlsx&cols=name,phone&sort=-name",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/vnd.openxmlformats"));
    let book = read_xlsx(&body);
    assert_eq!(book["types"], json!(["s"]), "only text cells: {book}");
    let rows = book["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{book}");
    let xnames: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str().unwrap()).collect();
    let mut reversed = listed.clone();
    reversed.reverse();
    assert_eq!(
        xnames,
        reversed.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(xnames.contains(&"=HYPERLINK(\"http://evil.example\",\"点我\")"));

    // A field hidden from the role is not exported in either format.
    app.set_field_rule(&admin, "sales_rep", "account", "annual_revenue", "hidden")
        .await;
    for format in ["csv", "xlsx"] {
        let (s, _, body) = download(
            &app,
            &a,
            &format!("/api/v1/accounts/export?format={format}"),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let haystack = if format == "csv" {
            String::from_utf8_lossy(&body).to_string()
        } else {
            read_xlsx(&body).to_string()
        };
        assert!(
            !haystack.contains("-250.50"),
            "{format}: hidden field exported"
        );
        assert!(haystack.contains("北京星辰科技"), "{format}");
    }

    // Rep B exports nothing of rep A's; a bad format is named.
    let (s, _, body) = download(&app, &b, "/api/v1/accounts/export?format=xlsx").await;
    assert_eq!(s, StatusCode::OK);
    let book = read_xlsx(&body);
    assert_eq!(
        book["rows"].as_array().unwrap().len(),
        1,
        "only the header: {book}"
    );
    let (s, err) = app.get(&a, "/api/v1/accounts/export?format=pdf").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["errors"][0]["field"], "format");
    let (_, audit) = app
        .get(&admin, "/api/v1/audit?action=account.exported")
        .await;
    assert!(audit["data"].as_array().unwrap().len() >= 4);
});
