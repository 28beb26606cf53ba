"""The hedge: its model, sizing (portfolio -> legs), advice, stress scenarios and orders."""
