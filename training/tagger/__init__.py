"""Training the tagger family (:mod:`restore.tagger`): its data files and its network.

The modules mirror the inference side: :mod:`training.tagger.inverse` builds ``inverse.npz``,
:mod:`training.tagger.ngram` the trigram counts, :mod:`training.tagger.context` the topic
vectors, :mod:`training.tagger.train` trains the network and writes the model directory, and
:mod:`training.tagger.edit_rule` / :mod:`training.tagger.choice_rule` fit the learned rules
(``scripts/calibrate.py``). ``python -m training.tagger`` runs the training stage.
"""
