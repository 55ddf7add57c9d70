//! Shared by the SciFact benchmark and example: loading the data and the tantivy baseline.

#![allow(dead_code)]

use std::path::PathBuf;

use slm_rag::{BeirDataset, Document, Index, TextAnalyzer};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{Language, LowerCaser, RegexTokenizer, Stemmer, StopWordFilter};
use tantivy::{DocAddress, IndexWriter, TantivyDocument, doc};

/// `$SLM_SCIFACT_DIR`, else `../shared/data/scifact` relative to the workspace root.
pub fn scifact_dir() -> PathBuf {
    std::env::var_os("SLM_SCIFACT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/scifact")
        })
}

/// SciFact, or `None` (with a message) when the data folder is absent.
pub fn load_scifact() -> Option<BeirDataset> {
    let dir = scifact_dir();
    match BeirDataset::load(&dir) {
        Ok(data) => Some(data),
        Err(e) => {
            eprintln!(
                "SciFact not available at {} ({e}); set SLM_SCIFACT_DIR",
                dir.display()
            );
            None
        }
    }
}

/// An slm-rag index with bm25s' settings (Lucene, k1 = 1.5, b = 0.75, bm25s tokenizer).
pub fn build_bm25s_compatible(documents: Vec<Document>) -> Index {
    build_with(TextAnalyzer::bm25s(), documents)
}

/// An index with the given analyzer and default (bm25s) BM25 parameters, scores prepared.
pub fn build_with(analyzer: TextAnalyzer, documents: Vec<Document>) -> Index {
    let mut index = Index::builder()
        .analyzer(analyzer)
        .build()
        .expect("valid settings");
    index.add_documents(documents).expect("unique ids");
    index.prepare();
    index
}

/// tantivy with the same analysis as bm25s (`\w\w+` tokens, lowercase, Lucene's 33 English
/// stopwords, Snowball English), in RAM, one segment; tantivy's BM25 uses k1 = 1.2, b = 0.75.
pub struct TantivyBaseline {
    index: tantivy::Index,
    searcher: tantivy::Searcher,
    parser: QueryParser,
    /// Document ids by segment, then by doc id within the segment.
    ids: Vec<String>,
}

impl TantivyBaseline {
    pub fn build(documents: &[Document], threads: usize) -> Self {
        let mut schema = Schema::builder();
        let id = schema.add_text_field("id", STRING | STORED);
        let indexing = TextFieldIndexing::default()
            .set_tokenizer("bm25s")
            .set_index_option(IndexRecordOption::WithFreqs);
        let body = schema.add_text_field(
            "body",
            TextOptions::default().set_indexing_options(indexing),
        );
        let index = tantivy::Index::create_in_ram(schema.build());
        let analyzer = tantivy::tokenizer::TextAnalyzer::builder(
            RegexTokenizer::new(r"\w\w+").expect("valid regex"),
        )
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(
            slm_rag::LUCENE_ENGLISH_STOPWORDS
                .iter()
                .map(|s| s.to_string()),
        ))
        .filter(Stemmer::new(Language::English))
        .build();
        index.tokenizers().register("bm25s", analyzer);
        let mut writer: IndexWriter = index
            .writer_with_num_threads(threads, 256 << 20)
            .expect("writer");
        for d in documents {
            writer
                .add_document(doc!(id => d.id.as_str(), body => d.text.as_str()))
                .expect("add");
        }
        writer.commit().expect("commit");
        let reader = index.reader().expect("reader");
        let searcher = reader.searcher();
        let mut ids = Vec::new();
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            for doc_id in 0..segment.max_doc() {
                let stored: TantivyDocument = searcher
                    .doc(DocAddress::new(segment_ord as u32, doc_id))
                    .expect("doc");
                let value = stored
                    .get_first(id)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                ids.push(value.to_string());
            }
        }
        let parser = QueryParser::for_index(&index, vec![body]);
        Self {
            index,
            searcher,
            parser,
            ids,
        }
    }

    pub fn segments(&self) -> usize {
        self.searcher.segment_readers().len()
    }

    /// The top `k` document addresses for a query.
    pub fn search(&self, query: &str, k: usize) -> Vec<(f32, DocAddress)> {
        let (query, _errors) = self.parser.parse_query_lenient(query);
        self.searcher
            .search(&query, &TopDocs::with_limit(k).order_by_score())
            .expect("search")
    }

    /// The top `k` document ids for a query.
    pub fn search_ids(&self, query: &str, k: usize) -> Vec<String> {
        let offsets = self.segment_offsets();
        self.search(query, k)
            .into_iter()
            .map(|(_, a)| self.ids[offsets[a.segment_ord as usize] + a.doc_id as usize].clone())
            .collect()
    }

    fn segment_offsets(&self) -> Vec<usize> {
        let mut offsets = vec![0];
        for s in self.searcher.segment_readers() {
            offsets.push(offsets.last().unwrap() + s.max_doc() as usize);
        }
        offsets
    }

    pub fn index(&self) -> &tantivy::Index {
        &self.index
    }
}
