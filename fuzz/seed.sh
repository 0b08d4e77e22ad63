#!/bin/sh
# Build the seed corpora from the fixture pages and the example config.
# corpus/ is gitignored: run this before `cargo +nightly fuzz run`.
set -eu
cd "$(dirname "$0")"
pages=../tests/fixtures/pages
mkdir -p corpus/extract corpus/config
# The first byte selects the URL (site profile) in fuzz_targets/extract.rs.
seed() { # NAME SELECTOR_OCTAL
    for f in "$pages"/"$1"*.html; do
        { printf "\\$2"; cat "$f"; } > "corpus/extract/$(basename "$f" .html)"
    done
}
seed guardian 001
seed cnn 002
seed cbsnews 003
seed cnbc 004
seed mirror 005
seed br24 006
seed ndtv 007
seed repubblica 010
seed independent 011
# Small pages too, so that mutations run fast.
printf '\000<html><head><title>t</title><script type="application/ld+json">{"@type":"LiveBlogPosting","liveBlogUpdate":[{"@type":"BlogPosting","@id":"a","headline":"h","articleBody":"b","datePublished":"2024-08-05T10:00:00Z"}]}</script></head><body><article id="p1"><h2>x</h2><time datetime="2024-08-05T10:00:00Z">10:00</time><p>y</p></article></body></html>' > corpus/extract/small-jsonld
printf '\040<html><head><meta charset="windows-1252"></head><body><div itemscope itemtype="http://schema.org/BlogPosting"><h2 itemprop="headline">caf\351</h2><div itemprop="articleBody">b</div></div></body></html>' > corpus/extract/small-microdata
cp ../config/livewatch.example.toml corpus/config/example.toml
for f in ../tests/fixtures/config/*.toml; do [ -f "$f" ] && cp "$f" corpus/config/; done
ls corpus/extract corpus/config | wc -l
