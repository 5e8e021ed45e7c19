"""Custom NLU components loaded by Rasa (run with ``assistant/`` on PYTHONPATH)."""
