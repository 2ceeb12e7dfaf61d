"""Porto Seguro's Safe Driver Prediction: will a driver file an insurance claim next year?"""
