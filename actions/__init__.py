"""Custom actions for the Rasa assistant (run by the rasa-sdk action server).

One module per area; actions stay thin and call ``knowledge`` for anything that needs knowing.
"""
