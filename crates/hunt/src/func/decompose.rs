//! `series_decompose(x, seasonality, trend, test_points)`: the series as
//! seasonal + trend + residual, in the order Kusto documents: the seasonal
//! component is, for each phase of the given period, the median of the
//! series' points in that phase (0 when the period is 0); the trend is
//! taken from the deseasoned series (`avg`: its average, `linefit`: its
//! least-squares line over x = 1..n, `none`: 0); baseline = seasonal +
//! trend; residual = x - baseline. The last `test_points` points are left
//! out of the learning and get the learned components. The planner refuses
//! seasonality autodetection (-1, Kusto's default) before this runs.

use super::{arg, ints, strs, utf8s};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::ColumnarValue;
use serde_json::Value as J;

/// The trend component's kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Avg,
    LineFit,
    None,
}

impl Trend {
    pub fn parse(s: &str) -> Option<Trend> {
        match s {
            "avg" => Some(Trend::Avg),
            "linefit" => Some(Trend::LineFit),
            "none" => Some(Trend::None),
            _ => None,
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The four components of `x`.
pub fn decompose(x: &[f64], period: usize, trend: Trend, test_points: usize) -> [Vec<f64>; 4] {
    let n = x.len();
    let learn = n.saturating_sub(test_points);
    let seasonal: Vec<f64> = if period == 0 {
        vec![0.0; n]
    } else {
        let phase: Vec<f64> = (0..period).map(|p| median((p..learn).step_by(period).map(|i| x[i]).collect())).collect();
        (0..n).map(|i| phase[i % period]).collect()
    };
    let des: Vec<f64> = x[..learn].iter().zip(&seasonal).map(|(v, s)| v - s).collect();
    let trend_v: Vec<f64> = match trend {
        Trend::None => vec![0.0; n],
        Trend::Avg => {
            let avg = if des.is_empty() { 0.0 } else { des.iter().sum::<f64>() / des.len() as f64 };
            vec![avg; n]
        }
        Trend::LineFit => {
            let m = des.len() as f64;
            let (mx, my) = ((m + 1.0) / 2.0, if des.is_empty() { 0.0 } else { des.iter().sum::<f64>() / m });
            let sxx: f64 = (1..=des.len()).map(|k| (k as f64 - mx).powi(2)).sum();
            let sxy: f64 = des.iter().enumerate().map(|(k, v)| (k as f64 + 1.0 - mx) * (v - my)).sum();
            let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
            (1..=n).map(|k| my + slope * (k as f64 - mx)).collect()
        }
    };
    let baseline: Vec<f64> = seasonal.iter().zip(&trend_v).map(|(s, t)| s + t).collect();
    let residual: Vec<f64> = x.iter().zip(&baseline).map(|(v, b)| v - b).collect();
    [baseline, seasonal, trend_v, residual]
}

fn arr(v: &[f64]) -> J {
    J::Array(v.iter().map(|x| serde_json::Number::from_f64(*x).map(J::Number).unwrap_or(J::Null)).collect())
}

pub fn series_decompose(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let x = strs(arg(args, 0, "series_decompose")?)?;
    let season = match args.get(1) {
        Some(a) => Some(ints(a)?),
        None => None,
    };
    let trend = match args.get(2) {
        Some(a) => Some(strs(a)?),
        None => None,
    };
    let tests = match args.get(3) {
        Some(a) => Some(ints(a)?),
        None => None,
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let period = season.as_ref().and_then(|s| s.at(i)).unwrap_or(-1);
        let Ok(period) = usize::try_from(period) else {
            return exec_err!("kql: series_decompose: the seasonality must be 0 or a period in bins");
        };
        let t = trend.as_ref().and_then(|t| t.at(i).map(str::to_string)).unwrap_or_else(|| "avg".into());
        let Some(t) = Trend::parse(&t) else {
            return exec_err!("kql: series_decompose: the trend is avg, linefit or none");
        };
        let tp = usize::try_from(tests.as_ref().and_then(|t| t.at(i)).unwrap_or(0)).unwrap_or(0);
        let v: Option<Vec<f64>> = match x.at(i).and_then(|s| serde_json::from_str::<J>(s).ok()) {
            Some(J::Array(items)) => Some(items.iter().filter_map(J::as_f64).collect()),
            _ => None,
        };
        out.push(v.map(|v| {
            let [b, s, tr, r] = decompose(&v, period, t, tp);
            serde_json::json!({"baseline": arr(&b), "seasonal": arr(&s), "trend": arr(&tr), "residual": arr(&r)})
                .to_string()
        }));
    }
    Ok(utf8s(n, |i| out.get_mut(i).and_then(Option::take)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_add_up() {
        let x = [1.0, 5.0, 2.0, 6.0, 3.0, 7.0];
        let [b, s, t, r] = decompose(&x, 2, Trend::Avg, 0);
        assert_eq!(s, [2.0, 6.0, 2.0, 6.0, 2.0, 6.0]);
        assert_eq!(t, [0.0; 6]);
        for i in 0..6 {
            assert_eq!(b[i] + r[i], x[i]);
        }
        let [_, _, t, r] = decompose(&[2.0, 4.0, 6.0, 8.0], 0, Trend::LineFit, 0);
        assert_eq!(t, [2.0, 4.0, 6.0, 8.0]);
        assert_eq!(r, [0.0; 4]);
    }
}
