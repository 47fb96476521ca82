"""Training sememe's own static models (optional: needs ``pip install 'sememe[train]'``).

The pipeline has three stages, each resumable and cached on disk:

1. :mod:`.distill` - pass every vocabulary token through a sentence-transformer teacher,
   reduce with PCA, and weight tokens by corpus frequency (SIF).
2. :mod:`.tokenlearn` - train the table and per-token weights so that pooled sentence
   vectors reproduce the teacher's vectors on a corpus, with a Matryoshka loss and a
   straight-through sign() term that keeps binary codes good.
3. :mod:`.contrastive` - fine-tune with in-batch negatives on sentence pairs.

``python -m sememe.training --help`` runs the stages from the command line; the exact
commands that rebuild the bundled model are in ``scripts/build_sememe_model.sh``.
Nothing in the core package imports this subpackage, so torch stays optional.
"""

from __future__ import annotations
