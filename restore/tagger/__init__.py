"""The tagger family, the default model's: a pretrained encoder judges every word of a unit and
chooses among the originals an inverse thesaurus lists for it.

One module per part, in the order a unit goes through them:

* :mod:`restore.tagger.settings`: the family's section of ``restore.json``;
* :mod:`restore.tagger.inverse`: the inverse thesaurus (``inverse.npz``), which finds the sites;
* :mod:`restore.tagger.ngram` and :mod:`restore.tagger.context`: the count evidence (``ngram/``,
  ``context.npz``) for each candidate;
* :mod:`restore.tagger.input`: a unit's tokens, sites, candidates and evidence;
* :mod:`restore.tagger.batch` and :mod:`restore.tagger.model`: tensors, and the network;
* :mod:`restore.tagger.engine`: proposals from the network's output;
* :mod:`restore.tagger.choice_rule` and :mod:`restore.tagger.edit_rule`: learned rules that
  weigh the choice and the edit;
* :mod:`restore.tagger.backend`: a model directory loaded as the Restorer's runtime.

``restore.formats.tagger`` registers the family as the ``tagger`` format; ``training.tagger``
trains it. Importing this package imports none of its modules.
"""
