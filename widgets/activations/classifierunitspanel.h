#pragma once
// The Activations dock's Units tab for classifiers: the units of the selected layer dissected over the open
// labelled dataset (Bau et al.: removing a few units can destroy a class) — the gallery of units sorted by the
// drop in a class's probability when each is removed, with each unit's mean map and the items it fires most
// on, its effect on every class, and the curve of removing the class's top n units together.
#include <QWidget>

class QLabel;
class QPushButton;
class QSpinBox;

namespace pellucid {

class DissectionView;

class ClassifierUnitsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ClassifierUnitsPanel(QWidget *parent = nullptr);
    /// The layer the dissection takes (the Model dock's selection) and whether a dataset is open.
    void setContext(const QString &layer, bool haveDataset);
    int itemLimit() const;
    DissectionView *view() const { return mView; }
    QLabel *statusLabel() const { return mStatus; }
    void showStatus(const QString &message);
    void showError(const QString &message);

signals:
    void dissectRequested();

private:
    QLabel *mLayer, *mStatus;
    QSpinBox *mItems;
    QPushButton *mDissect;
    DissectionView *mView;
};

}   // namespace pellucid
