"""The course machinery every notebook shares: start, seeding, deprecation notices, work folders, predictions, quiz, solutions."""
