"""Hidden checks of homework 2, parameters, memory and layers (one test_<question>.py per notebook)."""
