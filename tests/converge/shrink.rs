//! A greedy shrinker over the JSON of a failing tenant: proptest's own shrinking stops
//! early on generated structures, so the failure is minimised again here by removing
//! whole documents, then object members and array items at any depth, keeping each
//! removal that still fails the same way (same first line of the message), until no
//! removal does.

use serde_json::Value;

use super::gen::Tenant;

/// Every value obtained from `v` by removing one object member or array item, at any depth.
fn smaller(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) => {
            for k in m.keys() {
                let mut c = m.clone();
                c.remove(k);
                out.push(Value::Object(c));
            }
            for (k, child) in m {
                for s in smaller(child) {
                    let mut c = m.clone();
                    c.insert(k.clone(), s);
                    out.push(Value::Object(c));
                }
            }
        }
        Value::Array(items) => {
            for i in 0..items.len() {
                let mut c = items.clone();
                c.remove(i);
                out.push(Value::Array(c));
            }
            for (i, child) in items.iter().enumerate() {
                for s in smaller(child) {
                    let mut c = items.clone();
                    c[i] = s;
                    out.push(Value::Array(c));
                }
            }
        }
        _ => {}
    }
    out
}

fn kinds(t: &mut Tenant) -> [&mut Vec<Value>; 4] {
    [
        &mut t.purposes,
        &mut t.data,
        &mut t.policies,
        &mut t.projects,
    ]
}

/// Shrinks `tenant` while `fails` returns an error whose first line is `first_line`;
/// at most `budget` attempts. Returns the smallest tenant and its message.
pub fn minimise(
    mut tenant: Tenant,
    mut why: String,
    budget: usize,
    fails: &mut dyn FnMut(&Tenant) -> Result<(), String>,
) -> (Tenant, String) {
    let first_line = |s: &str| s.lines().next().unwrap_or_default().to_string();
    let want = first_line(&why);
    let mut tries = 0;
    let mut attempt = |t: &Tenant, tries: &mut usize| -> Option<String> {
        *tries += 1;
        match fails(t) {
            Err(w) if first_line(&w) == want => Some(w),
            _ => None,
        }
    };
    let mut progress = true;
    while progress && tries < budget {
        progress = false;
        // Whole documents first: a removal elsewhere may have freed one.
        for k in 0..4 {
            let mut i = 0;
            while i < kinds(&mut tenant)[k].len() && tries < budget {
                let mut t = tenant.clone();
                kinds(&mut t)[k].remove(i);
                if let Some(w) = attempt(&t, &mut tries) {
                    (tenant, why) = (t, w);
                    progress = true;
                } else {
                    i += 1;
                }
            }
        }
        // Then members and items, document by document.
        for k in 0..4 {
            for i in 0..kinds(&mut tenant)[k].len() {
                let doc = kinds(&mut tenant)[k][i].clone();
                for s in smaller(&doc) {
                    if tries >= budget {
                        break;
                    }
                    let mut t = tenant.clone();
                    kinds(&mut t)[k][i] = s;
                    if let Some(w) = attempt(&t, &mut tries) {
                        (tenant, why) = (t, w);
                        progress = true;
                        break;
                    }
                }
            }
        }
    }
    (tenant, why)
}
