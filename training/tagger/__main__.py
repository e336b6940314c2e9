import sys

from training.tagger.train import main

if __name__ == "__main__":
    sys.exit(main())
