//! The BM25 index: edge cases, properties, persistence and its typed errors.

use proptest::prelude::*;
use slm_rag::{
    Analyzer, Bm25Params, Bm25Variant, Document, Filter, Index, RagError, Stemming, TextAnalyzer,
};

fn docs(texts: &[&str]) -> Vec<Document> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| Document::new(format!("d{i}"), *t))
        .collect()
}

fn ranking(index: &Index, query: &str, k: usize) -> Vec<(String, f32)> {
    index
        .search(query, k)
        .iter()
        .map(|h| (h.id().to_string(), h.score))
        .collect()
}

#[test]
fn empty_corpus_returns_nothing_and_round_trips() {
    let index = Index::new();
    assert!(index.search("anything at all", 10).is_empty());
    assert!(
        index
            .search_batch(&["a", "b"], 10)
            .iter()
            .all(Vec::is_empty)
    );
    let copy = Index::from_bytes(&index.to_bytes().unwrap()).unwrap();
    assert!(copy.is_empty());
    assert_eq!(copy.average_length(), 0.0);
}

#[test]
fn empty_and_stopword_only_queries_return_nothing() {
    let index = Index::from_documents(docs(&["the cat sat on the mat", "a dog"])).unwrap();
    assert!(index.search("", 10).is_empty());
    assert!(index.search("   \n\t ", 10).is_empty());
    assert!(index.search("!!! ???", 10).is_empty());
    assert!(index.search("the of and a to", 10).is_empty());
    assert!(index.search("cat", 0).is_empty());
    assert_eq!(index.search("cat dog", usize::MAX).len(), 2);
    assert_eq!(index.search("the cat", 10).len(), 1);
}

#[test]
fn documents_made_only_of_stopwords_are_indexed_but_never_match() {
    let index = Index::from_documents(docs(&["the and of", "", "cats"])).unwrap();
    assert_eq!(index.len(), 3);
    assert_eq!(ranking(&index, "cats", 10)[0].0, "d2");
    assert_eq!(index.search("cats", 10).len(), 1);
}

#[test]
fn non_latin_text_is_searchable() {
    let index = Index::builder()
        .analyzer(TextAnalyzer::english().with_stemming(Stemming::None))
        .build()
        .unwrap();
    let mut index = index;
    index
        .add_documents([
            Document::new("ru", "Москва — столица России."),
            Document::new("el", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."),
            Document::new("ja", "東京は日本の首都です。"),
            Document::new("ar", "القاهرة عاصمة مصر"),
        ])
        .unwrap();
    assert_eq!(index.search("столица", 5)[0].id(), "ru");
    assert_eq!(index.search("ΑΘΉΝΑ", 5)[0].id(), "el");
    assert_eq!(index.search("東京", 5)[0].id(), "ja");
    assert_eq!(index.search("مصر", 5)[0].id(), "ar");
}

#[test]
fn rarer_terms_and_shorter_documents_rank_higher() {
    let index = Index::from_documents(docs(&[
        "apple banana",
        "apple apple banana cherry date elderberry fig grape",
        "apple cherry",
        "banana cherry",
    ]))
    .unwrap();
    let r = ranking(&index, "apple", 10);
    assert_eq!(r.len(), 3);
    assert!(r[0].1 >= r[1].1 && r[1].1 >= r[2].1);
    assert_ne!(r[2].0, "d0", "the long document ranks last");
    // "date" occurs in one document, "apple" in three: it outweighs one "apple".
    assert_eq!(ranking(&index, "date banana", 1)[0].0, "d1");
}

#[test]
fn repeated_query_words_count_each_time() {
    let index = Index::from_documents(docs(&["red fox", "blue fox jumps"])).unwrap();
    let once = ranking(&index, "fox", 1)[0].1;
    let twice = ranking(&index, "fox fox", 1)[0].1;
    assert!((twice - 2.0 * once).abs() < 1e-5);
}

#[test]
fn every_variant_ranks_the_obvious_match_first() {
    for variant in [
        Bm25Variant::Lucene,
        Bm25Variant::Robertson,
        Bm25Variant::Atire,
        Bm25Variant::Bm25L,
        Bm25Variant::Bm25Plus,
    ] {
        let mut index = Index::builder()
            .params(Bm25Params::variant(variant))
            .build()
            .unwrap();
        index
            .add_documents(docs(&[
                "solar panels convert sunlight",
                "wind turbines convert wind",
                "solar solar energy storage",
                "coal power plants",
                "hydro dams store water",
            ]))
            .unwrap();
        let r = ranking(&index, "solar energy", 5);
        assert_eq!(r[0].0, "d2", "{variant:?}");
        assert_eq!(r.len(), 2, "{variant:?}: only matching documents");
        assert!(r.iter().all(|(_, s)| s.is_finite()));
    }
}

#[test]
fn bm25_plus_adds_the_absent_term_score() {
    // Documents lacking a query term still get idf·δ for it: both matches of "a" also score
    // for the absent "b".
    let mut index = Index::builder()
        .analyzer(TextAnalyzer::plain())
        .params(Bm25Params::variant(Bm25Variant::Bm25Plus).with_delta(1.0))
        .build()
        .unwrap();
    index.add_documents(docs(&["a x", "a y", "b z"])).unwrap();
    let p = *index.params();
    let n = 3;
    let avg = index.average_length();
    let expected = p.idf(2, n) * p.tfc(1.0, 2.0, avg) + p.idf(1, n) * p.tfc(0.0, avg, avg);
    let got = index.search("a b", 3);
    let d0 = got.iter().find(|h| h.id() == "d0").unwrap();
    assert!(
        (f64::from(d0.score) - expected).abs() < 1e-4,
        "{} vs {expected}",
        d0.score
    );
}

#[test]
fn filters_restrict_results() {
    let mut index = Index::new();
    index
        .add_documents([
            Document::new("a", "rust borrow checker")
                .with_meta("lang", "en")
                .with_meta("year", 2015),
            Document::new("b", "rust ownership rules")
                .with_meta("lang", "en")
                .with_meta("year", 2021),
            Document::new("c", "rust Eigentum Regeln")
                .with_meta("lang", "de")
                .with_meta("year", 2022),
        ])
        .unwrap();
    let ids = |f: &Filter| -> Vec<String> {
        index
            .search_filtered("rust", 10, f)
            .iter()
            .map(|h| h.id().to_string())
            .collect()
    };
    assert_eq!(ids(&Filter::eq("lang", "de")), ["c"]);
    let recent_en = Filter::eq("lang", "en").and(Filter::range("year", Some(2020.0), None));
    assert_eq!(ids(&recent_en), ["b"]);
    assert_eq!(ids(&Filter::exists("missing")).len(), 0);
    let batch = index.search_batch_filtered(&["rust", "rules"], 10, &Filter::eq("lang", "en"));
    assert_eq!(batch[0].len(), 2);
    assert_eq!(batch[1].len(), 1);
}

#[test]
fn filtered_top_k_still_fills_k() {
    // Many better-scoring documents fail the filter; the top k must still hold k that pass.
    let mut docs: Vec<Document> = (0..500)
        .map(|i| Document::new(format!("x{i}"), "needle").with_meta("keep", false))
        .collect();
    docs.extend(
        (0..20)
            .map(|i| Document::new(format!("k{i}"), "needle hay hay hay").with_meta("keep", true)),
    );
    let index = Index::from_documents(docs).unwrap();
    let hits = index.search_filtered("needle", 10, &Filter::eq("keep", true));
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|h| h.id().starts_with('k')));
}

#[test]
fn batch_search_equals_one_by_one() {
    let texts: Vec<String> = (0..300)
        .map(|i| format!("doc {i} about topic{} and topic{}", i % 7, i % 11))
        .collect();
    let index = Index::from_documents(
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Document::new(i.to_string(), t.clone())),
    )
    .unwrap();
    let queries: Vec<String> = (0..40)
        .map(|i| format!("topic{} topic{}", i % 7, i % 5))
        .collect();
    let batch = index.search_batch(&queries, 25);
    assert_eq!(batch.len(), queries.len());
    for (q, hits) in queries.iter().zip(&batch) {
        assert_eq!(hits, &index.search(q, 25));
    }
}

#[test]
fn duplicate_ids_are_rejected_without_changes() {
    let mut index = Index::from_documents(docs(&["one"])).unwrap();
    let err = index.add_documents([Document::new("new", "two"), Document::new("new", "three")]);
    assert!(matches!(err, Err(RagError::DuplicateId(id)) if id == "new"));
    assert_eq!(index.len(), 1);
    assert!(index.search("two", 5).is_empty());
}

#[test]
fn deleted_documents_disappear_and_can_be_re_added() {
    let mut index = Index::from_documents(docs(&["alpha beta", "beta gamma"])).unwrap();
    assert!(index.delete("d0"));
    assert!(index.get("d0").is_none());
    assert!(index.search("alpha", 5).is_empty());
    index.add(Document::new("d0", "alpha again")).unwrap();
    assert_eq!(index.search("alpha", 5)[0].document.text, "alpha again");
}

#[test]
fn corrupt_files_give_typed_errors() {
    let index = Index::from_documents(docs(&["some text", "more text"])).unwrap();
    let bytes = index.to_bytes().unwrap();

    assert!(matches!(
        Index::from_bytes(b"hello world, not an index"),
        Err(RagError::NotAnIndex(_))
    ));
    assert!(matches!(
        Index::from_bytes(&bytes[..12]),
        Err(RagError::Corrupt(_))
    ));
    assert!(matches!(
        Index::from_bytes(&bytes[..bytes.len() - 1]),
        Err(RagError::Corrupt(_))
    ));

    let mut flipped = bytes.clone();
    flipped[30] ^= 0x55;
    assert!(
        matches!(Index::from_bytes(&flipped), Err(RagError::Corrupt(m)) if m.contains("checksum"))
    );

    let mut future = bytes.clone();
    future[8] = 9;
    assert!(matches!(
        Index::from_bytes(&future),
        Err(RagError::UnsupportedVersion {
            found: 9,
            supported: 1
        })
    ));

    // A well-formed header over a payload that is not an index.
    let mut bogus = bytes[..24].to_vec();
    let payload = [0xFFu8; 7];
    bogus[12..20].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    bogus[20..24].copy_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    bogus.extend_from_slice(&payload);
    assert!(matches!(
        Index::from_bytes(&bogus),
        Err(RagError::Corrupt(_))
    ));

    let dir = tempfile::tempdir().unwrap();
    let missing = Index::load(dir.path().join("missing.bm25"));
    assert!(matches!(missing, Err(RagError::Io { .. })));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let index = Index::from_documents(docs(&["a few words here", "and there"])).unwrap();
    let bytes = index.to_bytes().unwrap();
    for len in 0..bytes.len() {
        assert!(
            Index::from_bytes(&bytes[..len]).is_err(),
            "prefix of {len} bytes"
        );
    }
}

/// An analyzer that is not a `TextAnalyzer`: reversed words.
#[derive(Debug)]
struct Reversed;

impl Analyzer for Reversed {
    fn split(&self, text: &str, emit: &mut dyn FnMut(&str)) {
        text.split_whitespace().for_each(emit);
    }
    fn normalize(&self, word: &str) -> Option<String> {
        Some(word.chars().rev().collect())
    }
}

#[test]
fn custom_analyzers_are_pluggable_and_must_be_given_on_load() {
    let mut index = Index::builder().analyzer(Reversed).build().unwrap();
    index
        .add_documents(docs(&["hello world", "goodbye"]))
        .unwrap();
    assert_eq!(index.search("world", 5)[0].id(), "d0");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.bm25");
    index.save(&path).unwrap();
    assert!(matches!(
        Index::load(&path),
        Err(RagError::CustomAnalyzer(_))
    ));
    let loaded = Index::load_with_analyzer(&path, Reversed).unwrap();
    assert_eq!(
        ranking(&loaded, "goodbye", 5),
        ranking(&index, "goodbye", 5)
    );
}

#[test]
fn invalid_parameters_are_rejected() {
    for params in [
        Bm25Params::default().with_k1(-0.1),
        Bm25Params::default().with_b(1.5),
        Bm25Params::default().with_delta(f32::INFINITY),
        Bm25Params::variant(Bm25Variant::Bm25L)
            .with_k1(0.0)
            .with_delta(0.0),
    ] {
        assert!(matches!(
            Index::builder().params(params).build(),
            Err(RagError::InvalidConfig(_))
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

const WORDS: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "the",
    "of",
    "running",
    "runs",
    "ran",
    "café",
    "naïve",
    "東京",
    "москва",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..12).prop_map(|w| w.join(" "))
}

fn corpus() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..25)
}

fn variant() -> impl Strategy<Value = Bm25Variant> {
    prop::sample::select(vec![
        Bm25Variant::Lucene,
        Bm25Variant::Robertson,
        Bm25Variant::Atire,
        Bm25Variant::Bm25L,
        Bm25Variant::Bm25Plus,
    ])
}

fn index_of(texts: &[String], params: Bm25Params) -> Index {
    let mut index = Index::builder().params(params).build().unwrap();
    index
        .add_documents(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| Document::new(format!("d{i}"), t.clone())),
        )
        .unwrap();
    index
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn lucene_scores_are_never_negative(
        texts in corpus(),
        query in text(),
        k1 in 0.0f32..3.0,
        b in 0.0f32..=1.0,
    ) {
        let index = index_of(&texts, Bm25Params::default().with_k1(k1).with_b(b));
        for hit in index.search(&query, 50) {
            prop_assert!(hit.score >= 0.0 && hit.score.is_finite(), "score {}", hit.score);
        }
    }

    #[test]
    fn adding_then_deleting_restores_the_ranking(
        texts in corpus(),
        extra in prop::collection::vec(text(), 1..5),
        query in text(),
        variant in variant(),
    ) {
        let mut index = index_of(&texts, Bm25Params::variant(variant));
        let before = ranking(&index, &query, 100);
        index.add_documents(extra.iter().enumerate().map(|(i, t)| Document::new(format!("extra{i}"), t.clone()))).unwrap();
        let _ = index.search(&query, 100);
        for i in 0..extra.len() {
            let id = format!("extra{i}");
            prop_assert!(index.delete(&id));
        }
        prop_assert_eq!(ranking(&index, &query, 100), before);
    }

    #[test]
    fn save_and_load_round_trip(texts in corpus(), queries in prop::collection::vec(text(), 1..5), variant in variant()) {
        let index = index_of(&texts, Bm25Params::variant(variant).with_k1(1.2).with_b(0.6));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.bm25");
        index.save(&path).unwrap();
        let loaded = Index::load(&path).unwrap();
        prop_assert_eq!(loaded.len(), index.len());
        prop_assert_eq!(loaded.params(), index.params());
        prop_assert_eq!(loaded.documents().collect::<Vec<_>>(), index.documents().collect::<Vec<_>>());
        for q in &queries {
            prop_assert_eq!(ranking(&loaded, q, 100), ranking(&index, q, 100));
        }
        prop_assert_eq!(loaded.to_bytes().unwrap(), index.to_bytes().unwrap());
    }

    #[test]
    fn search_matches_a_brute_force_scorer(texts in corpus(), query in text(), variant in variant()) {
        let index = index_of(&texts, Bm25Params::variant(variant));
        let mismatch = compare_with_brute_force(&index, &texts, &query);
        prop_assert!(mismatch.is_none(), "{:?}", mismatch);
    }
}

/// Scores every document with the textbook formula and compares with `search`; returns the
/// first difference.
fn compare_with_brute_force(index: &Index, texts: &[String], query: &str) -> Option<String> {
    let analyzer = TextAnalyzer::english();
    let p = *index.params();
    let docs: Vec<Vec<String>> = texts.iter().map(|t| analyzer.terms(t)).collect();
    let n = docs.len() as u32;
    let avg = index.average_length();
    let q = analyzer.terms(query);
    let mut expected: Vec<(String, f64)> = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        if !q.iter().any(|t| d.contains(t)) {
            continue;
        }
        let mut score = 0.0;
        for t in &q {
            let df = docs.iter().filter(|d| d.contains(t)).count() as u32;
            if df == 0 {
                continue;
            }
            let tf = d.iter().filter(|x| *x == t).count() as f64;
            score += p.idf(df, n) * p.tfc(tf, d.len() as f64, avg);
        }
        expected.push((format!("d{i}"), score));
    }
    let got = ranking(index, query, usize::MAX);
    if got.len() != expected.len() {
        return Some(format!("{} hits, expected {}", got.len(), expected.len()));
    }
    for w in got.windows(2) {
        if w[0].1 < w[1].1 {
            return Some(format!("not sorted: {w:?}"));
        }
    }
    for (id, score) in &got {
        let Some((_, want)) = expected.iter().find(|(e, _)| e == id) else {
            return Some(format!("{id} not expected"));
        };
        if (f64::from(*score) - want).abs() > 1e-4 * want.abs().max(1.0) {
            return Some(format!("{id}: {score} vs {want}"));
        }
    }
    None
}

#[test]
fn sparse_and_dense_queries_match_brute_force_on_a_larger_corpus() {
    // 600 documents over a skewed vocabulary: rare-word queries touch a few documents (the
    // touched-list path), common-word queries most of them (the dense scan).
    let vocabulary: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    let mut state = 7u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let texts: Vec<String> = (0..600)
        .map(|_| {
            let len = 3 + next() % 20;
            (0..len)
                .map(|_| {
                    let r = next() % 1000;
                    let word = if r < 700 { r % 10 } else { 10 + next() % 290 };
                    vocabulary[word].as_str()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    for variant in [
        Bm25Variant::Lucene,
        Bm25Variant::Robertson,
        Bm25Variant::Bm25Plus,
    ] {
        let index = index_of(&texts, Bm25Params::variant(variant));
        for query in [
            "w250",
            "w123 w299",
            "w0 w1",
            "w3 w3 w200",
            "w5 w6 w7 w8 w9 w150",
        ] {
            let mismatch = compare_with_brute_force(&index, &texts, query);
            assert!(mismatch.is_none(), "{variant:?} {query:?}: {mismatch:?}");
        }
    }
}
