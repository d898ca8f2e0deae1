"""Hidden checks of homework 1 (one test_<question>.py per notebook)."""
