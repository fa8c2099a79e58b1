//! The serialisation contract, as property tests: any row of any table
//! survives JSON and CSV unchanged (timestamps at millisecond precision,
//! which is what the contract writes).

use netward_events::{read_csv, write_csv_header, write_csv_row, ColumnType, Record, Table, Timestamp, Value};
use proptest::prelude::*;

fn value_for(ty: ColumnType) -> BoxedStrategy<Value> {
    match ty {
        ColumnType::String => prop_oneof![Just(String::new()), any::<String>()].prop_map(Value::String).boxed(),
        ColumnType::Int => prop_oneof![Just(Value::Null), any::<i32>().prop_map(Value::Int)].boxed(),
        ColumnType::Long => prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::Long)].boxed(),
        ColumnType::DateTime => prop_oneof![
            Just(Value::Null),
            // Years 1900..2200, whole milliseconds.
            (-2_208_988_800_000i64..7_258_118_400_000).prop_map(|ms| Value::DateTime(Timestamp::from_unix_millis(ms)))
        ]
        .boxed(),
        ColumnType::Dynamic => prop_oneof![
            Just(serde_json::json!({})),
            (any::<String>(), any::<i64>()).prop_map(|(k, v)| serde_json::json!({ k: v, "list": [v, "x", null] })),
            proptest::collection::vec(any::<i32>(), 0..4).prop_map(|v| serde_json::json!(v)),
        ]
        .prop_map(Value::Dynamic)
        .boxed(),
        ColumnType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        ColumnType::Real => (-1e9f64..1e9).prop_map(Value::Real).boxed(),
    }
}

fn record_of(table: Table) -> impl Strategy<Value = Record> {
    let cols = table.columns();
    cols.iter().map(|c| value_for(c.ty)).collect::<Vec<_>>().prop_map(move |vals| {
        let mut r = Record::new(table);
        for (c, v) in cols.iter().zip(vals) {
            r.set(c.name, v).expect("generated value fits its column");
        }
        r
    })
}

fn any_record() -> impl Strategy<Value = Record> {
    prop_oneof![record_of(Table::DeviceNetworkEvents), record_of(Table::DeviceEvents), record_of(Table::DeviceInfo)]
}

proptest! {
    #[test]
    fn json_round_trip(rec in any_record()) {
        let line = rec.to_json_line();
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let obj = parsed.as_object().expect("an object");
        prop_assert_eq!(obj.len(), rec.table().columns().len());
        for c in rec.table().columns() {
            if c.ty == ColumnType::String {
                prop_assert!(obj[c.name].is_string(), "{} must never be null", c.name);
            }
        }
        let (back, unknown) = Record::from_json(rec.table(), &parsed).expect("reads back");
        prop_assert!(unknown.is_empty());
        prop_assert_eq!(back, rec);
    }

    #[test]
    fn csv_round_trip(rec in any_record()) {
        let mut w = csv::Writer::from_writer(Vec::new());
        write_csv_header(&mut w, rec.table()).unwrap();
        write_csv_row(&mut w, &rec).unwrap();
        let bytes = w.into_inner().unwrap();
        let (unknown, rows) = read_csv(&bytes[..], rec.table()).unwrap();
        prop_assert!(unknown.is_empty());
        let rows: Vec<Record> = rows.collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(rows, vec![rec]);
    }

    #[test]
    fn timestamps_always_print_rfc3339_millis_z(ms in -2_208_988_800_000i64..7_258_118_400_000) {
        let s = Timestamp::from_unix_millis(ms).to_string();
        prop_assert_eq!(s.len(), 24, "{}", s);
        prop_assert!(s.ends_with('Z'));
        prop_assert_eq!(Timestamp::parse(&s).unwrap(), Timestamp::from_unix_millis(ms));
    }
}
