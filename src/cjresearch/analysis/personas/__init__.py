"""analysis/personas"""
